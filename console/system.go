package console

import (
	"net/http"

	"connectrpc.com/connect"

	adminv1 "github.com/gavel/gavel/proto/gavel/admin/v1"
)

func (c *Console) systemPage(w http.ResponseWriter, r *http.Request, s *session) {
	resp, err := c.admin.GetStatus(r.Context(), connect.NewRequest(&adminv1.GetStatusRequest{}))
	if err != nil {
		c.failAPI(w, r, s, err)
		return
	}
	v := &view{Title: "System", Page: "system", Data: resp.Msg}
	c.fill(v, s)
	c.render(w, r, http.StatusOK, "system", v)
}
