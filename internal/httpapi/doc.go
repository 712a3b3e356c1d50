// Package httpapi is the master's web port but for the pages: the JSON API
// under /api/v1 (reads public or token-protected, actions behind a bearer
// token), the view models the API and the pages (package web) share
// (Views), JUnit export, live output following, /metrics, script
// download (/downloadScript, /showScript) and the original's test
// credential endpoints. Site assembles them into one handler.
package httpapi
