package dev.rlhf.llama.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.TestModels;
import dev.rlhf.vocabulary.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Continuous batching: requests that join a running loop at different steps, with prompts longer and shorter than
 * what is already cached, give what each gives alone; finished and cancelled rows leave at once.
 */
class DecodeLoopTest {
    private static NDManager manager;
    private static LlamaModel model;
    private static Generator generator;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        model = TestModels.randomModel(manager, TestModels.tinyGqa(), 11);
        generator = new Generator(model, TokenDecoder.IDS, 0);
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static GenerationRequest request(int[] prompt, int n, int maxNew, double temperature, long stream) {
        return new GenerationRequest(prompt, new SamplingParams(n, maxNew, temperature, 1, 0, 7, List.of()), stream,
                null, null);
    }

    @Test
    void requestsJoiningAtAnyStepGiveWhatEachGivesAlone() {
        List<GenerationRequest> requests = List.of(
                request(new int[] {1, 5, 9}, 2, 20, 1.0, 0),
                request(new int[] {1, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49}, 1, 12, 0.8, 1), // longer than cached
                request(new int[] {1, 7}, 3, 25, 0, 2), // greedy
                request(new int[] {1, 30, 31, 32}, 2, 6, 1.3, 3));
        int[] joinAt = {0, 3, 4, 15};
        List<List<Sample>> alone = new ArrayList<>();
        for (GenerationRequest r : requests) {
            alone.add(generator.generateAll(List.of(r)).samples().get(0));
        }
        List<List<Sample>> joined = new ArrayList<>(java.util.Collections.nCopies(requests.size(), null));
        // A first cache of 8 positions: the loop must drop unused slots and grow while rows come and go.
        try (DecodeLoop loop = new DecodeLoop(model, TokenDecoder.IDS, 0, 8, 8)) {
            int step = 0;
            int next = 0;
            while (next < requests.size() || !loop.isEmpty()) {
                while (next < requests.size() && joinAt[next] <= step) {
                    int index = next++;
                    loop.admit(List.of(requests.get(index)), List.of(samples -> joined.set(index, samples)));
                }
                loop.step();
                step++;
            }
        }
        for (int q = 0; q < requests.size(); q++) {
            assertNotNull(joined.get(q), "request " + q + " finished");
            for (int s = 0; s < alone.get(q).size(); s++) {
                Sample a = alone.get(q).get(s);
                Sample b = joined.get(q).get(s);
                assertArrayEquals(a.tokens(), b.tokens(), "request " + q + " sample " + s);
                assertArrayEquals(a.logprobs(), b.logprobs(), 1e-4f, "request " + q + " sample " + s);
                assertEquals(a.finishReason(), b.finishReason());
            }
        }
    }

    @Test
    void finishedAndCancelledRowsLeaveAtOnce() {
        AtomicBoolean cancel = new AtomicBoolean();
        List<List<Sample>> done = new ArrayList<>(Arrays.asList(null, null));
        try (DecodeLoop loop = new DecodeLoop(model, TokenDecoder.IDS, 0, 4, 16)) {
            loop.admit(List.of(request(new int[] {1, 5}, 1, 2, 1.0, 0),
                    new GenerationRequest(new int[] {1, 6}, new SamplingParams(2, 30, 1.0, 1, 0, 7, List.of()), 1,
                            null, cancel::get)), List.of(s -> done.set(0, s), s -> done.set(1, s)));
            assertEquals(3, loop.activeRows());
            assertEquals(1, loop.freeRows());
            assertThrows(IllegalStateException.class, () -> loop.admit(
                    List.of(request(new int[] {1}, 2, 2, 1.0, 5)), List.of(s -> { })), "two rows do not fit in one");
            loop.step(); // the 2-token request is done after its second token
            assertEquals(2, loop.activeRows());
            assertEquals(2, done.get(0).get(0).tokens().length);
            assertNull(done.get(1));
            cancel.set(true);
            loop.step();
            assertTrue(loop.isEmpty(), "cancelled rows left");
            assertEquals(FinishReason.CANCELLED, done.get(1).get(0).finishReason());
            assertEquals(FinishReason.CANCELLED, done.get(1).get(1).finishReason());
            // An emptied loop takes new requests from slot 0.
            List<Sample> again = new ArrayList<>();
            loop.admit(List.of(request(new int[] {1, 5}, 1, 2, 1.0, 0)), List.of(again::addAll));
            while (loop.step()) {
                // run to the end
            }
            assertArrayEquals(done.get(0).get(0).tokens(), again.get(0).tokens());
        }
    }
}
