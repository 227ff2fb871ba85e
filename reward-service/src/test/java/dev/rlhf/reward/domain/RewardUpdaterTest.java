package dev.rlhf.reward.domain;

import dev.rlhf.llama.reward.RewardModel;

import dev.rlhf.vocabulary.RewardKind;
import dev.rlhf.vocabulary.HotSwap;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.rlhf.llama.io.Manifest;
import dev.rlhf.reward.RewardFixtures;
import dev.rlhf.reward.domain.RewardUpdater.Outcome;
import dev.rlhf.reward.domain.RewardUpdater.Result;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RewardUpdaterTest {
    @TempDir
    Path tmp;

    private static String manifestSha(Path dir) {
        return Manifest.sha256(dir.resolve(Manifest.FILE_NAME));
    }

    private static Outcome await(java.util.concurrent.Future<Outcome> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }

    @Test
    void onlyNewerVerifiedCheckpointsAreSwappedInAndEveryRefusalIsCounted() throws Exception {
        Path v1 = RewardFixtures.checkpoint(tmp.resolve("v1"), 1);
        Path v2 = RewardFixtures.checkpoint(tmp.resolve("v2"), 2);
        List<String> log = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager()) {
            HotSwap<RewardModel> models = new HotSwap<>();
            try (RewardUpdater updater = new RewardUpdater(RewardKind.HELPFULNESS, models, m, log::add)) {
                updater.loadInitial(1, v1);
                List<Outcome> seen = new ArrayList<>();
                updater.onOutcome(seen::add);

                Outcome wrongSha = await(updater.offer(2, v2.toString(), manifestSha(v1)));
                assertEquals(Result.REJECTED, wrongSha.result());
                assertTrue(wrongSha.detail().contains("does not match the update's"), wrongSha.detail());
                Outcome noSha = await(updater.offer(2, v2.toString(), ""));
                assertEquals(Result.REJECTED, noSha.result());
                assertTrue(noSha.detail().contains("no manifest sha256"), noSha.detail());
                Outcome missing = await(updater.offer(2, tmp.resolve("nowhere").toString(), manifestSha(v2)));
                assertEquals(Result.REJECTED, missing.result());
                Outcome badPath = await(updater.offer(2, "bad\0path", manifestSha(v2)));
                assertTrue(badPath.detail().contains("is not a local path or file: URI"), badPath.detail());
                Path nan = RewardFixtures.nanHeadCheckpoint(v2, tmp.resolve("nan"));
                Outcome notFinite = await(updater.offer(2, nan.toString(), manifestSha(nan)));
                assertTrue(notFinite.detail().contains("canary forward pass gives non-finite scalar scores"),
                        notFinite.detail());
                Path wider = dev.rlhf.llama.checkpoint.ModelFactory.create(tmp.resolve("wider"),
                        dev.rlhf.llama.config.LlamaConfig.preset("tiny").withVocabSize(600), null, 7, true);
                java.nio.file.Files.copy(v1.resolve("tokenizer.json"), wider.resolve("tokenizer.json"));
                Outcome otherShape = await(updater.offer(2, wider.toString(), manifestSha(wider)));
                assertTrue(otherShape.detail().contains("vocabulary 600 differs from the served"), otherShape.detail());
                assertEquals(1, models.version(), "refused updates leave version 1 serving");
                assertEquals(6, updater.failedLoads());

                assertEquals(Result.APPLIED, await(updater.offer(2, v2.toUri().toString(), manifestSha(v2))).result());
                assertEquals(2, models.version());
                assertEquals(Result.STALE, await(updater.offer(2, v2.toString(), manifestSha(v2))).result());
                assertEquals(Result.STALE, await(updater.offer(1, v1.toString(), manifestSha(v1))).result());
                assertEquals(2, models.version());
                assertEquals(2, updater.swaps());
                assertEquals(6, updater.failedLoads());
                assertEquals(9, seen.size(), "every offered update reports its outcome");
                assertTrue(log.stream().anyMatch(l -> l.contains("rejected, still serving 1")), log.toString());
            } finally {
                models.clear();
            }
        }
    }
}
