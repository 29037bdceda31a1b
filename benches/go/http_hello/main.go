// Command http_hello is a minimal net/http "hello world" server (keep-alive is net/http's
// default) for load tests with wrk or a similar client against a loopback address. It is the
// Go twin of gort's future HTTP example; it only serves, it generates no load itself.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"runtime"
)

var body = []byte("Hello, World!\n")

func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(body)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (keep it on loopback)")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0 keeps the default: all CPUs)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("serving on %s with GOMAXPROCS=%d", listener.Addr(), runtime.GOMAXPROCS(0))
	log.Fatal(http.Serve(listener, http.HandlerFunc(hello)))
}
