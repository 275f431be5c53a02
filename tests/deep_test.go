package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	decisionv1 "github.com/gavel/gavel/proto/gavel/decision/v1"
)

// deepLevels is how deep the attack nests attributes: ~60 KB of JSON.
const deepLevels = 10000

// deepJSON is a small DecideRequest whose attributes nest deepLevels deep.
func deepJSON() []byte {
	var b bytes.Buffer
	b.WriteString(`{"request_id":"deep-1","checkpoint":"signup","subject":{"id":"acct-deep"},"attributes":`)
	for range deepLevels {
		b.WriteString(`{"a":`)
	}
	b.WriteString(`1`)
	for range deepLevels {
		b.WriteString(`}`)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// deepProto is the same request as binary protobuf: a Struct nested
// deepLevels deep.
func deepProto(t testing.TB) []byte {
	t.Helper()
	v := structpb.NewNumberValue(1)
	var s *structpb.Struct
	for range deepLevels {
		s = &structpb.Struct{Fields: map[string]*structpb.Value{"a": v}}
		v = structpb.NewStructValue(s)
	}
	b, err := proto.MarshalOptions{}.Marshal(&decisionv1.DecideRequest{
		RequestId: "deep-2", Checkpoint: "signup", Subject: &decisionv1.Subject{Id: "acct-deep"}, Attributes: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// procKB reads a VmRSS or VmHWM line of /proc/<pid>/status, in KiB.
func procKB(t testing.TB, pid int, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// deepAttackMaxGrowthMB bounds how much gavel's peak resident memory may
// grow while it answers 100 concurrent deep requests (each protocol, with
// and without a token). Before decoding was bounded, 20 such requests took
// gavel from ~60 MB to ~650 MB.
const deepAttackMaxGrowthMB = 64

// TestDeepRequestsAreCheap sends 100 concurrent deeply nested requests over
// Connect JSON, Connect binary and gRPC, unauthenticated and authenticated:
// each is refused (unauthenticated, or invalid_argument) and gavel's peak
// resident memory stays within deepAttackMaxGrowthMB of where it started.
func TestDeepRequestsAreCheap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	const token = "deep-attack-secret-000000001"
	g := startGavel(t, append(detectorsOff(t),
		"GAVEL_AUTH__TOKENS__SIGNUP__SECRET="+token,
		"GAVEL_AUTH__TOKENS__SIGNUP__ROLES=decide",
	)...)
	pid := g.cmd.Process.Pid
	before := procKB(t, pid, "VmHWM")

	jsonBody, protoBody := deepJSON(), deepProto(t)
	grpcBody := make([]byte, 5+len(protoBody)) // gRPC length-prefixed message
	grpcBody[1], grpcBody[2], grpcBody[3], grpcBody[4] = byte(len(protoBody)>>24), byte(len(protoBody)>>16), byte(len(protoBody)>>8), byte(len(protoBody))
	copy(grpcBody[5:], protoBody)

	type attack struct {
		name, contentType string
		body              []byte
	}
	attacks := []attack{
		{"connect-json", "application/json", jsonBody},
		{"connect-proto", "application/proto", protoBody},
		{"grpc", "application/grpc", grpcBody},
	}
	client := h2cClient()
	for _, authed := range []bool{false, true} {
		for _, a := range attacks {
			name := a.name
			if authed {
				name += "-authenticated"
			}
			t.Run(name, func(t *testing.T) {
				const n = 100
				var wg sync.WaitGroup
				results := make([]string, n)
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, g.addr+"/gavel.decision.v1.DecisionService/Decide", bytes.NewReader(a.body))
						if err != nil {
							results[i] = err.Error()
							return
						}
						req.Header.Set("Content-Type", a.contentType)
						if a.contentType == "application/grpc" {
							req.Header.Set("TE", "trailers")
						}
						if authed {
							req.Header.Set("Authorization", "Bearer "+token)
						}
						resp, err := client.Do(req)
						if err != nil {
							results[i] = err.Error()
							return
						}
						var buf bytes.Buffer
						buf.ReadFrom(resp.Body)
						resp.Body.Close()
						code := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
						results[i] = fmt.Sprintf("%d %s", resp.StatusCode, code)
					}()
				}
				wg.Wait()
				// Connect: 401 unauthenticated, 400 invalid_argument; gRPC: status 16 or 3.
				want := map[bool]map[string]bool{
					false: {"401 ": true, "200 16": true},
					true:  {"400 ": true, "200 3": true},
				}[authed]
				for i, r := range results {
					if !want[r] {
						t.Fatalf("deep request %d answered %q, want one of %v", i, r, want)
					}
				}
			})
		}
	}
	after := procKB(t, pid, "VmHWM")
	t.Logf("gavel peak RSS: %d MB before, %d MB after 600 deep requests (100 concurrent)", before/1024, after/1024)
	if grew := (after - before) / 1024; grew > deepAttackMaxGrowthMB {
		t.Errorf("gavel's peak RSS grew by %d MB under deep requests, want at most %d MB", grew, deepAttackMaxGrowthMB)
	}
	// Still serving after the attack.
	if _, err := g.decisions(withToken(token)).Decide(ctxT(t), connect.NewRequest(signup("after.deep@example.org"))); err != nil {
		t.Errorf("Decide after the attack: %v", err)
	}
}

// detectorsOff is the environment that turns every built-in detector off.
func detectorsOff(t testing.TB) []string {
	var off []string
	for _, d := range builtinDetectors(t) {
		off = append(off, fmt.Sprintf("GAVEL_DETECTORS__PLUGINS__%s__ENABLED=false", upper(d)))
	}
	return off
}
