package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// vmRSSBytes reads the resident set size of this process from /proc/self/status.
func vmRSSBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			kib, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				panic(err)
			}
			return kib * 1024
		}
	}
	panic("no VmRSS line in /proc/self/status")
}

// runParked parks n goroutines forever on a channel receive (one shared channel, or one per
// goroutine) and prints the growth of VmRSS per goroutine. Run it in its own process.
func runParked(n int, ownChannel bool) {
	runtime.GC()
	before := vmRSSBytes()
	var started sync.WaitGroup
	started.Add(n)
	shared := make(chan struct{})
	for i := 0; i < n; i++ {
		ch := shared
		if ownChannel {
			ch = make(chan struct{})
		}
		go func(c chan struct{}) {
			started.Done()
			<-c
		}(ch)
	}
	started.Wait()
	runtime.GC()
	after := vmRSSBytes()
	name := "parked"
	if ownChannel {
		name = "parked_own_chan"
	}
	fmt.Printf("%s_%s/go\t%.0f\tB/goroutine\n", name, countLabel(n), float64(after-before)/float64(n))
}

// countLabel spells 100000 as "100k" and 1000000 as "1m", as the row names do.
func countLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "m"
	case n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	default:
		return strconv.Itoa(n)
	}
}
