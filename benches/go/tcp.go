package main

import (
	"io"
	"net"
	"time"
)

// echoMessageBytes is the size of each TCP echo message.
const echoMessageBytes = 64

// tcpEcho: one client connection to an echo server on 127.0.0.1 (an ephemeral port); the
// client writes 64 bytes and reads the 64-byte echo, n times. Both ends are goroutines on the
// netpoller. Returns ns per round trip.
func tcpEcho(n int) float64 {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer listener.Close()
	go func() {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, echoMessageBytes)
		for {
			if _, err := io.ReadFull(conn, buf); err != nil {
				return
			}
			if _, err := conn.Write(buf); err != nil {
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", listener.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	out := make([]byte, echoMessageBytes)
	in := make([]byte, echoMessageBytes)
	start := time.Now()
	for i := 0; i < n; i++ {
		out[0] = byte(i)
		if _, err := conn.Write(out); err != nil {
			panic(err)
		}
		if _, err := io.ReadFull(conn, in); err != nil {
			panic(err)
		}
		if in[0] != byte(i) {
			panic("echo returned the wrong message")
		}
	}
	elapsed := time.Since(start)
	return nsPer(elapsed, n)
}
