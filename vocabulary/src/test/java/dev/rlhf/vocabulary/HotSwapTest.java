package dev.rlhf.vocabulary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class HotSwapTest {
    static final class Resource implements AutoCloseable {
        final AtomicBoolean closed = new AtomicBoolean();
        final AtomicInteger closes = new AtomicInteger();

        @Override
        public void close() {
            closed.set(true);
            closes.incrementAndGet();
        }
    }

    @Test
    void inFlightRequestsKeepTheirVersionUntilTheyRelease() {
        HotSwap<Resource> swap = new HotSwap<>();
        assertNull(swap.acquire());
        Resource v1 = new Resource();
        swap.swap(v1, 1);
        HotSwap.Lease<Resource> running = swap.acquire();
        Resource v2 = new Resource();
        swap.swap(v2, 2);
        assertFalse(v1.closed.get(), "v1 still serves a running request");
        try (HotSwap.Lease<Resource> fresh = swap.acquire()) {
            assertEquals(2, fresh.version());
        }
        assertEquals(1, running.version());
        running.close();
        assertTrue(v1.closed.get());
        assertEquals(1, v1.closes.get());
        assertFalse(v2.closed.get());
        swap.clear();
        assertTrue(v2.closed.get());
    }

    @Test
    void concurrentAcquiresDuringSwapsNeverSeeAClosedVersion() throws Exception {
        HotSwap<Resource> swap = new HotSwap<>();
        swap.swap(new Resource(), 0);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Integer>> results = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            results.add(pool.submit(() -> {
                start.await();
                int bad = 0;
                for (int i = 0; i < 20_000; i++) {
                    try (HotSwap.Lease<Resource> l = swap.acquire()) {
                        if (l.value().closed.get()) {
                            bad++;
                        }
                    }
                }
                return bad;
            }));
        }
        List<Resource> versions = new ArrayList<>();
        start.countDown();
        for (int v = 1; v <= 200; v++) {
            Resource r = new Resource();
            versions.add(r);
            swap.swap(r, v);
        }
        int bad = 0;
        for (Future<Integer> f : results) {
            bad += f.get();
        }
        pool.shutdown();
        assertEquals(0, bad, "a request saw a closed model");
        assertEquals(200, swap.version());
        for (int i = 0; i < versions.size() - 1; i++) {
            assertEquals(1, versions.get(i).closes.get(), "version " + (i + 1) + " closed exactly once");
        }
    }
}
