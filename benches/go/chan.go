package main

import (
	"sync"
	"time"
)

// pingPong: n round trips over two unbuffered channels; the echo goroutine replies v+1 and
// the driver sums the replies. Returns ns per round trip.
func pingPong(n int) float64 {
	ping := make(chan uint64)
	pong := make(chan uint64)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	var sum uint64
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- uint64(i)
		sum += <-pong
	}
	elapsed := time.Since(start)
	close(ping)
	want := uint64(n) * uint64(n+1) / 2
	mustEqual("ping-pong sum", int64(sum), int64(want))
	sink += sum
	return nsPer(elapsed, n)
}

// buffered: `pairs` producers and `pairs` consumers share one channel of capacity 1024 and
// move total u64 values (split evenly); consumers sum them. Returns ns per message.
func buffered(total, pairs int) float64 {
	ch := make(chan uint64, 1024)
	per := total / pairs
	total = per * pairs
	var producers, consumers sync.WaitGroup
	sums := make([]uint64, pairs)
	start := time.Now()
	producers.Add(pairs)
	consumers.Add(pairs)
	for p := 0; p < pairs; p++ {
		go func() {
			for i := 0; i < per; i++ {
				ch <- uint64(i)
			}
			producers.Done()
		}()
		go func(slot int) {
			var s uint64
			for v := range ch {
				s += v
			}
			sums[slot] = s
			consumers.Done()
		}(p)
	}
	producers.Wait()
	close(ch)
	consumers.Wait()
	elapsed := time.Since(start)
	var sum uint64
	for _, s := range sums {
		sum += s
	}
	want := uint64(pairs) * uint64(per) * uint64(per-1) / 2
	mustEqual("buffered sum", int64(sum), int64(want))
	sink += sum
	return nsPer(elapsed, total)
}

// selectReady: send i into channel a (capacity 1), then select over a and b, where b is never
// ready. Returns ns per iteration (send + 2-way select).
func selectReady(n int) float64 {
	a := make(chan uint64, 1)
	b := make(chan uint64, 1)
	var sum uint64
	start := time.Now()
	for i := 0; i < n; i++ {
		a <- uint64(i)
		select {
		case v := <-a:
			sum += v
		case v := <-b:
			sum += v + 1
		}
	}
	elapsed := time.Since(start)
	mustEqual("select sum", int64(sum), int64(uint64(n)*uint64(n-1)/2))
	sink += sum
	return nsPer(elapsed, n)
}

// recvBaseline is selectReady with a plain receive instead of the select (select overhead is
// the difference). Returns ns per iteration.
func recvBaseline(n int) float64 {
	a := make(chan uint64, 1)
	var sum uint64
	start := time.Now()
	for i := 0; i < n; i++ {
		a <- uint64(i)
		sum += <-a
	}
	elapsed := time.Since(start)
	mustEqual("recv sum", int64(sum), int64(uint64(n)*uint64(n-1)/2))
	sink += sum
	return nsPer(elapsed, n)
}

// selectTimeoutAfter: like selectReady, but the second arm is a fresh time.After(1h) each
// iteration, which never fires. Returns ns per iteration (send + timer creation + select).
func selectTimeoutAfter(n int) float64 {
	a := make(chan uint64, 1)
	var sum uint64
	start := time.Now()
	for i := 0; i < n; i++ {
		a <- uint64(i)
		select {
		case v := <-a:
			sum += v
		case <-time.After(time.Hour):
			panic("a one-hour timeout fired")
		}
	}
	elapsed := time.Since(start)
	mustEqual("select-timeout sum", int64(sum), int64(uint64(n)*uint64(n-1)/2))
	sink += sum
	return nsPer(elapsed, n)
}

// selectTimeoutReused: one timer, stopped and re-armed to 1h every iteration (the
// allocation-free way to write a per-iteration timeout). Returns ns per iteration.
func selectTimeoutReused(n int) float64 {
	a := make(chan uint64, 1)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var sum uint64
	start := time.Now()
	for i := 0; i < n; i++ {
		a <- uint64(i)
		if !timer.Stop() {
			<-timer.C
		}
		timer.Reset(time.Hour)
		select {
		case v := <-a:
			sum += v
		case <-timer.C:
			panic("a one-hour timeout fired")
		}
	}
	elapsed := time.Since(start)
	mustEqual("select-timer sum", int64(sum), int64(uint64(n)*uint64(n-1)/2))
	sink += sum
	return nsPer(elapsed, n)
}
