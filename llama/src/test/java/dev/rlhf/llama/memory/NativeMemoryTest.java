package dev.rlhf.llama.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.model.TestModels;
import dev.rlhf.llama.train.LearningRateSchedule;
import dev.rlhf.llama.train.PackedSequence;
import dev.rlhf.llama.train.Packing;
import dev.rlhf.llama.train.Trainer;
import dev.rlhf.llama.train.TrainingExample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Generation and training in a loop must not grow native memory: every per-step NDArray is closed by an
 * NDScope or a sub-manager. A leak of one step's temporaries (~100 KB here) over thousands of steps would
 * add hundreds of MB of resident memory.
 */
class NativeMemoryTest {
    /** Allowed resident growth after warm-up; allocator caching and JIT code stay well below it. */
    private static final long MAX_GROWTH_BYTES = 64L << 20;

    /**
     * Resident memory after a full GC: tensors whose Java handles became garbage are freed by their cleaners
     * then. The llama module's tests run with a fixed, pre-touched heap (pom.xml), so heap sizing does not move
     * this number and what remains is native memory.
     */
    static long residentAfterGc() throws IOException {
        System.gc();
        System.runFinalization();
        System.gc();
        return residentBytes();
    }

    static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    @Test
    void generatingTenThousandTokensAndTwoHundredStepsKeepsResidentMemoryFlat() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaModel model = TestModels.randomModel(manager, TestModels.tinyGqa(), 3);
            Generator generator = new Generator(model, ids -> "", 0);
            List<int[]> prompts = List.of(new int[] {1, 4, 5}, new int[] {1, 6, 7, 8});
            SamplingParams params = new SamplingParams(4, 50, 1.0, 1.0, 0, 1, List.of()); // 8 rows x 50 tokens
            List<TrainingExample> examples = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                examples.add(new TrainingExample(new int[] {10 + i, 11}, new int[] {20 + i, 30, 40}));
            }
            List<PackedSequence> rows = Packing.pack(examples, 16, 1, 3, 2, 0);
            int managedBefore;
            long before;
            try (Trainer trainer = new Trainer(model, LearningRateSchedule.constant(1e-4))) {
                // Warm-up: allocator pools, JIT, optimizer state.
                for (int i = 0; i < 20; i++) {
                    generator.generate(prompts, params.withSeed(i));
                    trainer.languageModelStep(List.of(rows));
                }
                before = residentAfterGc();
                managedBefore = model.weights().manager().getManagedArrays().size();
                long tokens = 0;
                long seed = 100;
                while (tokens < 10_000) {
                    for (var perPrompt : generator.generate(prompts, params.withSeed(seed++)).samples()) {
                        for (var s : perPrompt) {
                            tokens += s.tokens().length + 1; // + the EOS step, if any, was also decoded
                        }
                    }
                }
                for (int i = 0; i < 200; i++) {
                    trainer.languageModelStep(List.of(rows));
                }
                assertEquals(managedBefore, model.weights().manager().getManagedArrays().size(),
                        "NDArrays left attached to the model manager");
            }
            long growth = residentAfterGc() - before;
            System.out.printf("resident memory growth after 10k tokens + 200 steps: %.1f MB (RSS %.1f MB)%n",
                    growth / 1048576.0, residentBytes() / 1048576.0);
            assertTrue(growth < MAX_GROWTH_BYTES, "resident memory grew by " + growth / 1048576 + " MB");
        }
    }
}
