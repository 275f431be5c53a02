-- Delivered events are pruned after events.retention: the deliveries by
-- when they were delivered, then the events left with no delivery.
-- PostgreSQL dialect.
CREATE INDEX event_deliveries_delivered ON event_deliveries (delivered_at) WHERE state = 'delivered';
CREATE INDEX event_deliveries_seq ON event_deliveries (seq);
CREATE INDEX events_at ON events (at) WHERE routed;
