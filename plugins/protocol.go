// Package plugins is the detector protocol shared by gavel's detector host and
// the SDK detector authors import: the go-plugin handshake, the plugin name and
// the gRPC plugin that serves and consumes gavel.detector.v1.DetectorService.
// The host (plugins/host) starts detector binaries and the SDK (plugins/sdk)
// serves them; PROTOCOL.md describes the wire contract for any language.
package plugins

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	detectorv1 "github.com/gavel/gavel/proto/gavel/detector/v1"
)

// Handshake is version 1 of the detector handshake. The cookie only stops a
// detector binary from being run by hand; it is not a secret.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "GAVEL_DETECTOR_PLUGIN",
	MagicCookieValue: "6f1c2e0b9a7d4e58b3c1a2f0d9e8c7b6",
}

// PluginName is the name under which a detector binary serves DetectorPlugin.
const PluginName = "detector"

// Environment variables the host sets for a detector (besides go-plugin's own).
const (
	// EnvDataDir is the folder where a detector may keep state.
	EnvDataDir = "GAVEL_DETECTOR_DATA_DIR"
	// EnvPrefix prefixes each key of the detector's configured environment:
	// key "redis_url" arrives as GAVEL_DETECTOR_REDIS_URL.
	EnvPrefix = "GAVEL_DETECTOR_"
)

// DetectorPlugin is the go-plugin plugin of a detector. A detector binary sets
// Impl; the host leaves it nil and dispenses a DetectorServiceClient.
type DetectorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl detectorv1.DetectorServiceServer
}

var _ plugin.GRPCPlugin = (*DetectorPlugin)(nil)

// GRPCServer registers the detector's implementation on the plugin's server.
func (p *DetectorPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	detectorv1.RegisterDetectorServiceServer(s, p.Impl)
	return nil
}

// GRPCClient returns a DetectorServiceClient over the plugin's connection.
func (p *DetectorPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return detectorv1.NewDetectorServiceClient(c), nil
}

// PluginSet returns the plugin set of a detector serving impl, or of the host
// when impl is nil.
func PluginSet(impl detectorv1.DetectorServiceServer) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &DetectorPlugin{Impl: impl}}
}
