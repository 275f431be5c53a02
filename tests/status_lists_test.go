package tests

import (
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
	listsv1 "github.com/gavel/gavel/proto/gavel/lists/v1"
)

// TestStatusShowsLists: gavel status (RPC and CLI) shows the runtime lists
// this replica matches against, each list's size, and how long ago it
// last read the list changes.
func TestStatusShowsLists(t *testing.T) {
	const opsToken = "operations-secret-000000001"
	g := startGavel(t, append(detectorsOff(t),
		"GAVEL_AUTH__TOKENS__OPS__SECRET="+opsToken,
		"GAVEL_AUTH__TOKENS__OPS__ROLES=admin,read",
	)...)
	ops := withToken(opsToken)
	ctx := ctxT(t)
	if _, err := g.lists(ops).CreateList(ctx, connect.NewRequest(&listsv1.CreateListRequest{
		Name: "abuse-ranges", Kind: "ip", Purpose: listsv1.Purpose_PURPOSE_BLOCK,
	})); err != nil {
		t.Fatal(err)
	}
	if _, err := g.lists(ops).AddEntries(ctx, connect.NewRequest(&listsv1.AddEntriesRequest{
		List: "abuse-ranges", Values: []string{"192.0.2.0/24", "198.51.100.7", "2001:db8::/48"}, Note: "abuse reports",
	})); err != nil {
		t.Fatal(err)
	}
	var st *adminv1.GetStatusResponse
	eventually(t, 10*time.Second, "status showing the list's three entries in memory", func() (bool, string) {
		resp, err := g.admin(ops).GetStatus(ctx, connect.NewRequest(&adminv1.GetStatusRequest{}))
		if err != nil {
			return false, err.Error()
		}
		st = resp.Msg
		l := st.GetLists()
		return l.GetLists() == 1 && l.GetEntries() == 3, l.String()
	})
	l := st.GetLists()
	if l.GetLastSync() == nil || l.GetSyncAge() == nil || l.GetSyncAge().AsDuration() < 0 || l.GetSeq() == 0 || l.GetSyncError() != "" {
		t.Errorf("status lists = %v, want a last sync, its age and the change applied", l)
	}
	if s := l.GetSizes(); len(s) != 1 || s[0].GetName() != "abuse-ranges" || s[0].GetKind() != "ip" || s[0].GetPurpose() != "block" || s[0].GetEntries() != 3 {
		t.Errorf("status list sizes = %v, want abuse-ranges (ip, block) with 3 entries", s)
	}
	r := gavelCLI(t, "status", "--addr", g.addr, "--token", opsToken)
	if r.code != 0 || !strings.Contains(r.stdout, "lists: 1 lists, 3 entries in memory, synced ") ||
		!strings.Contains(r.stdout, "list abuse-ranges (ip, block): 3 entries") {
		t.Errorf("gavel status = %s, want the lists' line and the list's size", r)
	}
}
