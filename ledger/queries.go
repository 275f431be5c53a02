package ledger

// queries are the ledger's statements, written once with ? placeholders and
// rebound for the dialect at Open.
type queries struct {
	insertDecision, insertReasonHit, insertHold, insertSuspension, insertStrike string
	insertEvent                                                                 string
	liftRemedied                                                                string
	recordByRequestID, recordByID, listFirst, listAfter                         string
	activeHolds, activeStrikes, recent, standing, cleared                       string
	overturnDecision, overturnStrike, liftHoldsOf, liftSuspensionOf             string
	// The subject's standing version (standing.go): created and locked
	// by one upsert, bumped.
	subjectVersionLock, subjectVersionBump string
}

func newQueries(d *dialect) *queries {
	r := d.rebind
	// The later of the stored changed_at (NULL before migration 0024's
	// backfill reached it) and the new one.
	laterChange := "max(COALESCE(subject_versions.changed_at, excluded.changed_at), excluded.changed_at)"
	if d.name == Postgres {
		laterChange = "GREATEST(subject_versions.changed_at, excluded.changed_at)"
	}
	return &queries{
		// DO NOTHING without a conflict target: a retried request id, or the
		// very same record committed twice, stores nothing.
		insertDecision: r(`INSERT INTO decisions
			(decision_id, request_id, subject_id, checkpoint, decided_at, action, codes,
			 fallback, dry_run, bundle_revision, latency_ns, record, source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`),
		insertReasonHit: r(`INSERT INTO reason_hits (decision_id, code, decided_at, dry_run) VALUES (?, ?, ?, ?)`),
		insertEvent:     r(`INSERT INTO events (event_id, type, subject, at, data) VALUES (?, ?, ?, ?, ?)`),
		insertHold: r(`INSERT INTO holds
			(subject_id, capability, since, until, decision_id, remedy, remedy_checkpoint)
			VALUES (?, ?, ?, ?, ?, ?, ?)`),
		insertSuspension: r(`INSERT INTO suspensions (decision_id, subject_id, since, until, source)
			VALUES (?, ?, ?, ?, ?)`),
		insertStrike: r(`INSERT INTO strikes (decision_id, subject_id, codes, at, expires_at)
			VALUES (?, ?, ?, ?, ?)`),
		liftRemedied: r(`UPDATE holds SET lifted_at = ?, lifted_reason = ?, lifted_kind = 'remedied', lifted_by = ?
			WHERE subject_id = ? AND remedy_checkpoint = ? AND lifted_at IS NULL
			  AND since <= ? AND (until IS NULL OR until > ?)`),

		recordByRequestID: r(`SELECT record FROM decisions WHERE request_id = ?`),
		// One statement creates the subject's version row if it has none
		// and locks it: an upsert whose update changes nothing takes the
		// row lock as an UPDATE does (on PostgreSQL, held by every other
		// transaction of the subject, on any replica, until this one ends;
		// SQLite's one writer holds the lock already), and returns the row
		// as committed before it, after waiting for a transaction holding it.
		subjectVersionLock: r(`INSERT INTO subject_versions (subject_id, version) VALUES (?, 0)
		ON CONFLICT (subject_id) DO UPDATE SET version = subject_versions.version
		RETURNING version, COALESCE(changed_at > ?, false)`),
		subjectVersionBump: r(`INSERT INTO subject_versions (subject_id, version, changed_at) VALUES (?, 1, ?)
		ON CONFLICT (subject_id) DO UPDATE SET version = subject_versions.version + 1, changed_at = ` + laterChange),
		recordByID: r(`SELECT record FROM decisions WHERE decision_id = ?`),
		listFirst: r(`SELECT record, decided_at, decision_id FROM decisions
			WHERE subject_id = ?
			ORDER BY decided_at DESC, decision_id DESC LIMIT ?`),
		listAfter: r(`SELECT record, decided_at, decision_id FROM decisions
			WHERE subject_id = ? AND (decided_at, decision_id) < (?, ?)
			ORDER BY decided_at DESC, decision_id DESC LIMIT ?`),

		// History, on every decision's hot path: each reads one subject
		// through a partial index of what is still in force.
		activeHolds: r(`SELECT capability, since, until, decision_id, remedy FROM holds
			WHERE subject_id = ? AND lifted_at IS NULL AND since <= ? AND (until IS NULL OR until > ?)
			ORDER BY since, id`),
		activeStrikes: r(`SELECT codes FROM strikes
			WHERE subject_id = ? AND overturned_at IS NULL AND at <= ? AND expires_at > ?
			ORDER BY at, decision_id`),
		recent: r(`SELECT decision_id, checkpoint, action, codes, decided_at, overturned_at IS NOT NULL
			FROM decisions
			WHERE subject_id = ? AND decided_at <= ? AND decided_at > ? AND dry_run = ?
			ORDER BY decided_at DESC, decision_id DESC LIMIT ?`),
		// The version first: History reads it before the rest, so a change
		// that lands between its statements shows as a newer version at
		// commit, never as an older one.
		standing: r(`SELECT
			COALESCE((SELECT version FROM subject_versions WHERE subject_id = ?), 0),
			COALESCE((SELECT decision_id || ' ' || source FROM suspensions
				WHERE subject_id = ? AND lifted_at IS NULL AND since <= ? AND (until IS NULL OR until > ?)
				ORDER BY since, decision_id LIMIT 1), ''),
			(SELECT count(*) FROM decisions WHERE subject_id = ? AND overturned_at IS NOT NULL)`),
		cleared: r(`SELECT code, rule, evidence, until, appeal_id, decision_id FROM cleared_rules
			WHERE subject_id = ? AND until > ? AND since <= ?
			ORDER BY since, id`),

		overturnDecision: r(`UPDATE decisions SET overturned_at = ?, overturned_by = ? WHERE decision_id = ? AND overturned_at IS NULL`),
		overturnStrike:   r(`UPDATE strikes SET overturned_at = ?, overturned_by = ? WHERE decision_id = ? AND overturned_at IS NULL`),
		liftHoldsOf: r(`UPDATE holds SET lifted_at = ?, lifted_reason = ?, lifted_kind = 'overturned', lifted_by = ?
			WHERE decision_id = ? AND lifted_at IS NULL`),
		liftSuspensionOf: r(`UPDATE suspensions SET lifted_at = ?, lifted_reason = ?, lifted_kind = 'overturned', lifted_by = ?
			WHERE decision_id = ? AND lifted_at IS NULL`),
	}
}

// allHolds lists a subject's holds, lifted ones included, for reviewers.
const allHolds = `SELECT capability, since, until, decision_id, remedy, remedy_checkpoint, lifted_at, lifted_reason
	FROM holds WHERE subject_id = ? ORDER BY since, id`
