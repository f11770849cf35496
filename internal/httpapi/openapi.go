package httpapi

import (
	_ "embed"
	"net/http"
)

// openapiDoc is the OpenAPI 3.1 description of this API. TestOpenAPI keeps
// it in step with routes() and with the JSON fields of the domain types.
//
//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
}
