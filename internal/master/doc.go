// Package master assembles a master from its parts and runs it: the state
// folder and its lock, the CA, the history (store), the definitions
// (catalog), the daemons' registry and gRPC port (daemons), the session
// manager (session), the scheduler, alert mails (notify) and the web port
// (httpapi, web). Open makes them in dependency order and pushes the undo
// of each on one stack; Close runs it newest first. It holds no logic of
// its own beyond that wiring.
package master
