package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spawnWindows spawns total goroutines from inside a goroutine, window at a time: spawn
// window, wait for all of them, repeat (window == total is the naive "spawn everything, then
// wait"). Each goroutine adds to a shared counter and signals a WaitGroup. Returns ns/task.
func spawnWindows(total, window int) float64 {
	var counter int64
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		var wg sync.WaitGroup
		for remaining := total; remaining > 0; {
			w := minInt(remaining, window)
			wg.Add(w)
			for i := 0; i < w; i++ {
				go func() {
					atomic.AddInt64(&counter, 1)
					wg.Done()
				}()
			}
			wg.Wait()
			remaining -= w
		}
		done <- time.Since(start)
	}()
	elapsed := <-done
	mustEqual("spawn counter", atomic.LoadInt64(&counter), int64(total))
	return nsPer(elapsed, total)
}

// spawnYielding is the naive spawn where the spawner calls runtime.Gosched every `every`
// spawns (anchors' a'), which bounds the number of live goroutines. Returns ns/task.
func spawnYielding(total, every int) float64 {
	var counter int64
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		var wg sync.WaitGroup
		wg.Add(total)
		for i := 0; i < total; i++ {
			if i%every == 0 {
				runtime.Gosched()
			}
			go func() {
				atomic.AddInt64(&counter, 1)
				wg.Done()
			}()
		}
		wg.Wait()
		done <- time.Since(start)
	}()
	elapsed := <-done
	mustEqual("spawn counter", atomic.LoadInt64(&counter), int64(total))
	return nsPer(elapsed, total)
}

// spawnParkWake measures one "unit": a goroutine W is spawned, W spawns a sibling S and blocks
// receiving from an unbuffered channel; S sends, which wakes W; W then counts and signals.
// So a unit is 2 spawns + 1 park + 1 wake. Units are spawned in windows. Returns ns/unit.
func spawnParkWake(units, window int) float64 {
	var counter int64
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		var wg sync.WaitGroup
		for remaining := units; remaining > 0; {
			w := minInt(remaining, window)
			wg.Add(w)
			for i := 0; i < w; i++ {
				go func() {
					wake := make(chan struct{})
					go func() { wake <- struct{}{} }()
					<-wake
					atomic.AddInt64(&counter, 1)
					wg.Done()
				}()
			}
			wg.Wait()
			remaining -= w
		}
		done <- time.Since(start)
	}()
	elapsed := <-done
	mustEqual("park-wake counter", atomic.LoadInt64(&counter), int64(units))
	return nsPer(elapsed, units)
}

// yieldSwitch: two goroutines each call runtime.Gosched n times (run at GOMAXPROCS=1, so each
// yield switches to the other). Returns ns per yield, i.e. per switch.
func yieldSwitch(n int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return nsPer(time.Since(start), 2*n)
}

func mustEqual(what string, got, want int64) {
	if got != want {
		panic(fmt.Sprintf("%s: got %d, want %d", what, got, want))
	}
}
