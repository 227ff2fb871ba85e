package dev.rlhf.launcher;

import dev.rlhf.launcher.pipeline.DemoPipeline;
import dev.rlhf.llama.runtime.Devices;
import dev.rlhf.launcher.pipeline.DemoReport;
import dev.rlhf.launcher.pipeline.DemoSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf demo}: the whole pipeline on the synthetic world, embedded, with a report. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Runs the whole LLaMA 2 pipeline on one machine on the synthetic assistant world: tokenizer, "
                + "pre-training, SFT, helpfulness and safety reward models, rejection sampling through the real "
                + "services (embedded Kafka broker, policy, reward, sampler and trainer on loopback), PPO.",
            "Writes runs/<timestamp>/ with report.md, metrics.json, PNG plots, best-of-n.csv and the models; "
                + "runs/latest points to it. Every stage is graded on held-out prompts by the gold oracles."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--quick", description = "Smaller configuration for CI (about 3 minutes on 2 cores).")
    boolean quick;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the base model's pre-training (unless "
            + "--base-seed is given) and of the fine-tuning: demonstrations, SFT, preference samples, reward models, "
            + "RS and PPO sampling, evaluation samples (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--base-seed", paramLabel = "SEED", description = "Seed of the pre-trained base model: corpus, "
            + "tokenizer, initial weights, pre-training order (default: the --seed value). Fixing it while --seed "
            + "varies starts every run from one base model.")
    Long baseSeed;

    @Option(names = "--split-seed", paramLabel = "SEED", defaultValue = "" + DemoPipeline.DEFAULT_SPLIT_SEED,
            description = "Seed of the prompt splits (held-out, validation, RL training prompts). Fixed by default "
            + "so that runs with different --seed values are graded on the same held-out prompts "
            + "(default: ${DEFAULT-VALUE}).")
    long splitSeed;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto, for every stage: the "
            + "in-process training and the services the RL stages start (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--runs", defaultValue = "runs", description = "Directory of runs (default: ${DEFAULT-VALUE}).")
    Path runs;

    @Option(names = "--set", paramLabel = "NAME=VALUE", description = "Override one setting of the configuration "
            + "(repeatable), e.g. --set pretrainSteps=2000 --set rsIterations=3; the names are listed in report.md "
            + "and in an error message for an unknown name.")
    java.util.Map<String, String> overrides = new java.util.LinkedHashMap<>();

    @Option(names = "--resume", paramLabel = "RUN_DIR", description = "Continue an earlier run in RUN_DIR: finished "
            + "models (tokenizer, pre-trained, SFT, reward models) are reused, the later stages run again. The "
            + "seeds and --quick must be the same as that run's (checked against its run.json); --set may change the "
            + "later stages' settings.")
    Path resume;

    @Override
    public Integer call() throws Exception {
        Devices.resolve(device); // before any work: an unknown device, or gpu without one, is a one-line error
        DemoSettings settings = (quick ? DemoSettings.quick() : DemoSettings.standard()).with(overrides);
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT));
        Path runDir = runs.resolve(stamp);
        for (int i = 2; Files.exists(runDir); i++) {
            runDir = runs.resolve(stamp + "-" + i);
        }
        if (resume != null) {
            if (!Files.isDirectory(resume.resolve("models"))) {
                throw new IllegalArgumentException("--resume: " + resume + " is not a demo run directory (no models/)");
            }
            runDir = resume;
            runs = resume.toAbsolutePath().getParent();
        }
        DemoPipeline.Seeds seeds = new DemoPipeline.Seeds(seed, baseSeed == null ? seed : baseSeed, splitSeed);
        Files.createDirectories(runDir);
        checkOrRecordSeeds(runDir, settings.name(), seeds);
        System.err.println("rlhf demo: " + settings.name() + " configuration, seed " + seed + ", base-model seed "
                + seeds.base() + ", split seed " + splitSeed + ", writing " + runDir);
        long t0 = System.nanoTime();
        DemoPipeline.Result result = DemoPipeline.run(runDir, settings, seeds, device, System.err::println);
        DemoReport.write(result, runDir);
        pointLatest(runs, runDir);
        System.out.println();
        System.out.print(DemoReport.summaryTable(result));
        System.out.printf(Locale.ROOT, "%nrlhf demo: done in %.0f s; report %s%n", (System.nanoTime() - t0) / 1e9,
                runDir.resolve("report.md"));
        return 0;
    }

    /**
     * A resumed run reuses models made with the seeds and configuration recorded in {@code run.json}; resuming with
     * others would mix models of two runs, so it fails naming both. A run directory without the file (made before
     * it existed) is trusted.
     */
    static void checkOrRecordSeeds(Path runDir, String configuration, DemoPipeline.Seeds seeds) throws IOException {
        com.google.gson.JsonObject wanted = new com.google.gson.JsonObject();
        wanted.addProperty("configuration", configuration);
        wanted.addProperty("seed", seeds.finetune());
        wanted.addProperty("base_seed", seeds.base());
        wanted.addProperty("split_seed", seeds.split());
        Path file = runDir.resolve("run.json");
        if (Files.exists(file)) {
            com.google.gson.JsonObject recorded = com.google.gson.JsonParser.parseString(Files.readString(file))
                    .getAsJsonObject();
            if (!recorded.equals(wanted)) {
                throw new IllegalArgumentException("--resume: " + runDir + " was made with " + recorded
                        + ", this call asks for " + wanted + "; pass the same --seed, --base-seed, --split-seed "
                        + "and --quick");
            }
            return;
        }
        Files.writeString(file, wanted + "\n");
    }

    /** runs/latest -> the newest run, replaced atomically (a relative link, so the tree can move). */
    static void pointLatest(Path runs, Path runDir) throws IOException {
        Path tmp = runs.resolve(".latest.tmp");
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, runDir.getFileName());
        Files.move(tmp, runs.resolve("latest"), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
