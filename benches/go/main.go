// Command gortbench runs the Go twins of gort's benchmark workloads and prints one row per
// measurement: "name<TAB>value<TAB>unit". Names match the criterion ids of the Rust benches
// (group/Nproc/peer, peer = "go") so the two can be put side by side; benches/go/run.sh runs
// this program several times and prints medians.
//
// Every workload runs once as a warm-up and once measured, in this process; GOMAXPROCS is set
// per workload with runtime.GOMAXPROCS. Results are consumed through package-level sinks and
// counts are checked, so nothing is optimised away.
package main

import (
	"flag"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"time"
)

// sink keeps loop results alive so the compiler cannot drop the work that produced them.
var sink uint64

// workload is one measurement: run performs it at the given scale and returns the value
// in unit (a time per operation, in nanoseconds).
type workload struct {
	group string
	procs []int
	unit  string
	run   func(scale float64) float64
}

func scaled(n int, scale float64) int {
	v := int(float64(n) * scale)
	if v < 1 {
		return 1
	}
	return v
}

func minInt(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func nsPer(d time.Duration, ops int) float64 {
	return float64(d.Nanoseconds()) / float64(ops)
}

func workloads() []workload {
	both := []int{1, 2}
	one := []int{1}
	return []workload{
		{"spawn", both, "ns/task", func(s float64) float64 { n := scaled(1_000_000, s); return spawnWindows(n, n) }},
		{"spawn_yield_1k", both, "ns/task", func(s float64) float64 { return spawnYielding(scaled(1_000_000, s), 1000) }},
		{"spawn_window_1k", both, "ns/task", func(s float64) float64 { return spawnWindows(scaled(1_000_000, s), 1000) }},
		{"spawn_window_10k", both, "ns/task", func(s float64) float64 { return spawnWindows(scaled(1_000_000, s), 10_000) }},
		{"spawn_park_wake", both, "ns/unit", func(s float64) float64 { return spawnParkWake(scaled(500_000, s), 1000) }},
		{"switch", one, "ns/switch", func(s float64) float64 { return yieldSwitch(scaled(1_000_000, s)) }},
		{"pingpong", both, "ns/roundtrip", func(s float64) float64 { return pingPong(scaled(1_000_000, s)) }},
		{"buffered_1to1", both, "ns/msg", func(s float64) float64 { return buffered(scaled(10_000_000, s), 1) }},
		{"buffered_4to4", both, "ns/msg", func(s float64) float64 { return buffered(scaled(10_000_000, s), 4) }},
		{"select_ready", both, "ns/iter", func(s float64) float64 { return selectReady(scaled(1_000_000, s)) }},
		{"select_baseline_recv", both, "ns/iter", func(s float64) float64 { return recvBaseline(scaled(1_000_000, s)) }},
		{"select_timeout_after", both, "ns/iter", func(s float64) float64 { return selectTimeoutAfter(scaled(1_000_000, s)) }},
		{"select_timeout_reused", both, "ns/iter", func(s float64) float64 { return selectTimeoutReused(scaled(1_000_000, s)) }},
		{"mutex_contended_2", both, "ns/lock", func(s float64) float64 { return mutexContended(scaled(1_000_000, s), 2) }},
		{"mutex_contended_16", both, "ns/lock", func(s float64) float64 { return mutexContended(scaled(1_000_000, s), 16) }},
		{"mutex_contended_1000", both, "ns/lock", func(s float64) float64 { return mutexContended(scaled(1_000_000, s), 1000) }},
		{"mutex_uncontended", one, "ns/lock", func(s float64) float64 { return mutexUncontended(scaled(10_000_000, s)) }},
		{"waitgroup_fanout_10k", both, "ns/fanout", func(s float64) float64 { return waitGroupFanOut(scaled(50, s), 10_000) }},
		{"context_cancel_10k", both, "ns/fanout", func(s float64) float64 { return contextCancelFanOut(scaled(20, s), 10_000) }},
		{"pool_1m", both, "ns/task", func(s float64) float64 { return pool(scaled(1_000_000, s), 8) }},
		{"tcp_echo", both, "ns/roundtrip", func(s float64) float64 { return tcpEcho(scaled(100_000, s)) }},
	}
}

func main() {
	filter := flag.String("run", "", "only workloads whose row name matches this regexp")
	quick := flag.Bool("quick", false, "run every workload at 1/10 of its size (sanity check, noisy)")
	list := flag.Bool("list", false, "list the row names and exit")
	parkedN := flag.Int("parked", 0, "memory mode: park this many goroutines and print bytes per goroutine (one run per process)")
	parkedOwn := flag.Bool("own-chan", false, "memory mode: one channel per goroutine instead of one shared channel")
	flag.Parse()

	if *parkedN > 0 {
		runParked(*parkedN, *parkedOwn)
		return
	}
	var re *regexp.Regexp
	if *filter != "" {
		re = regexp.MustCompile(*filter)
	}
	scale := 1.0
	if *quick {
		scale = 0.1
	}
	for _, w := range workloads() {
		for _, p := range w.procs {
			name := w.group + "/" + strconv.Itoa(p) + "proc/go"
			if re != nil && !re.MatchString(name) {
				continue
			}
			if *list {
				fmt.Println(name)
				continue
			}
			runtime.GOMAXPROCS(p)
			runtime.GC()
			w.run(scale) // warm-up: grows stacks, free lists and timers the way a steady state has them
			runtime.GC()
			v := w.run(scale)
			fmt.Printf("%s\t%.1f\t%s\n", name, v, w.unit)
		}
	}
}
