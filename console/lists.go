package console

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	listsv1 "github.com/gavel/gavel/proto/gavel/lists/v1"
)

type listsData struct {
	Lists   []*listsv1.List
	List    *listsv1.List
	Entries []*listsv1.Entry
	Changes []*listsv1.Change
	Next    string
	CanEdit bool
}

func (c *Console) listsPage(w http.ResponseWriter, r *http.Request, s *session) {
	resp, err := c.lists.ListLists(r.Context(), connect.NewRequest(&listsv1.ListListsRequest{}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	v := &view{Title: "Lists", Page: "lists", Data: &listsData{Lists: resp.Msg.GetLists(), CanEdit: s.who.Has(RoleReview, RoleAdmin)}}
	c.fill(v, s)
	c.render(w, r, http.StatusOK, "lists", v)
}

func (c *Console) listPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showList(w, r, s, http.StatusOK, "", "")
}

func (c *Console) showList(w http.ResponseWriter, r *http.Request, s *session, code int, notice, problem string) {
	name := r.PathValue("name")
	resp, err := c.lists.ListEntries(r.Context(), connect.NewRequest(&listsv1.ListEntriesRequest{List: name, PageSize: 100, PageToken: r.URL.Query().Get("page")}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	ch, err := c.lists.ListChanges(r.Context(), connect.NewRequest(&listsv1.ListChangesRequest{List: name, PageSize: 20}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	d := &listsData{List: resp.Msg.GetList(), Entries: resp.Msg.GetEntries(), Next: resp.Msg.GetNextPageToken(),
		Changes: ch.Msg.GetChanges(), CanEdit: s.who.Has(RoleReview, RoleAdmin)}
	v := &view{Title: "List " + name, Page: "lists", Data: d, Notice: notice, Error: problem}
	c.fill(v, s)
	c.render(w, r, code, "list", v)
}

func (c *Console) editList(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	values := strings.FieldsFunc(r.PostFormValue("values"), func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range values {
		values[i] = strings.TrimSpace(values[i])
	}
	values = compact(values)
	if len(values) == 0 {
		c.showList(w, r, s, http.StatusBadRequest, "", "Enter at least one value, one a line.")
		return
	}
	var (
		err    error
		notice string
	)
	switch r.PathValue("op") {
	case "add":
		var resp *connect.Response[listsv1.AddEntriesResponse]
		resp, err = c.lists.AddEntries(r.Context(), connect.NewRequest(&listsv1.AddEntriesRequest{List: name, Values: values, Note: r.PostFormValue("note")}))
		if err == nil {
			notice = itoa(int64(resp.Msg.GetAdded())) + " added."
		}
	case "remove":
		var resp *connect.Response[listsv1.RemoveEntriesResponse]
		resp, err = c.lists.RemoveEntries(r.Context(), connect.NewRequest(&listsv1.RemoveEntriesRequest{List: name, Values: values}))
		if err == nil {
			notice = itoa(int64(resp.Msg.GetRemoved())) + " removed."
		}
	default:
		c.fail(w, r, s, http.StatusNotFound, "There is no such change.")
		return
	}
	if connect.CodeOf(err) == connect.CodeInvalidArgument {
		c.showList(w, r, s, http.StatusBadRequest, "", "Nothing changed: "+connectMessage(err))
		return
	}
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	c.showList(w, r, s, http.StatusOK, notice, "")
}

func compact(vs []string) []string {
	out := vs[:0]
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
