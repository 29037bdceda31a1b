package main

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// mutexContended: `goroutines` goroutines, released together, each lock a shared sync.Mutex,
// increment one counter and unlock, total times in all. Returns ns per Lock/Unlock pair.
func mutexContended(total, goroutines int) float64 {
	per := total / goroutines
	if per < 1 {
		per = 1
	}
	total = per * goroutines
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	release := make(chan struct{})
	wg.Add(goroutines)
	for g := 0; g < goroutines; g++ {
		go func() {
			<-release
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	start := time.Now()
	close(release)
	wg.Wait()
	elapsed := time.Since(start)
	mustEqual("mutex counter", counter, int64(total))
	return nsPer(elapsed, total)
}

// mutexUncontended: one goroutine locks and unlocks a sync.Mutex n times around an increment.
// Returns ns per Lock/Unlock pair.
func mutexUncontended(n int) float64 {
	var mu sync.Mutex
	var counter int64
	start := time.Now()
	for i := 0; i < n; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	elapsed := time.Since(start)
	mustEqual("mutex counter", counter, int64(n))
	sink += uint64(counter)
	return nsPer(elapsed, n)
}

// waitGroupFanOut: `rounds` times, Add(width), spawn width goroutines that each count and call
// Done, then Wait. Returns ns per fan-out of `width` (spawn + Done + Wait, all of it).
func waitGroupFanOut(rounds, width int) float64 {
	var counter int64
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		for r := 0; r < rounds; r++ {
			var wg sync.WaitGroup
			wg.Add(width)
			for i := 0; i < width; i++ {
				go func() {
					atomic.AddInt64(&counter, 1)
					wg.Done()
				}()
			}
			wg.Wait()
		}
		done <- time.Since(start)
	}()
	elapsed := <-done
	mustEqual("waitgroup counter", atomic.LoadInt64(&counter), int64(rounds*width))
	return nsPer(elapsed, rounds)
}

// contextCancelFanOut: `waiters` goroutines block on ctx.Done(); the time measured runs from
// cancel() until every waiter has woken and signalled. Setup (spawning the waiters and
// letting them block) is not timed. Returns the median over `rounds` of ns per fan-out.
func contextCancelFanOut(rounds, waiters int) float64 {
	samples := make([]float64, 0, rounds)
	for r := 0; r < rounds; r++ {
		ctx, cancel := context.WithCancel(context.Background())
		var started, woken sync.WaitGroup
		started.Add(waiters)
		woken.Add(waiters)
		for i := 0; i < waiters; i++ {
			go func() {
				started.Done()
				<-ctx.Done()
				woken.Done()
			}()
		}
		started.Wait()
		start := time.Now()
		cancel()
		woken.Wait()
		samples = append(samples, float64(time.Since(start).Nanoseconds()))
	}
	sort.Float64s(samples)
	return samples[len(samples)/2]
}

// pool: `workers` goroutines read task numbers from one channel (capacity 1024) and run a tiny
// task (add it to a shared atomic); the submitter sends total tasks, closes the channel and
// waits. Returns ns per task.
func pool(total, workers int) float64 {
	jobs := make(chan uint64, 1024)
	var sum uint64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			for job := range jobs {
				atomic.AddUint64(&sum, job)
			}
			wg.Done()
		}()
	}
	for i := 0; i < total; i++ {
		jobs <- uint64(i)
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	mustEqual("pool sum", int64(atomic.LoadUint64(&sum)), int64(uint64(total)*uint64(total-1)/2))
	return nsPer(elapsed, total)
}
