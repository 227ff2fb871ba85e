package dev.rlhf.launcher;

import dev.rlhf.proto.v1.RewardScore;
import dev.rlhf.proto.v1.RewardServiceGrpcClient;
import dev.rlhf.proto.v1.ScoreRequest;
import dev.rlhf.proto.v1.ScoreResponse;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf score --remote}: score responses with a running reward service. */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Score responses to a prompt with a running reward service (raw logit and sigmoid).")
final class ScoreCommand implements Callable<Integer> {
    @Option(names = "--remote", required = true, description = "Reward service address HOST:PORT.")
    String remote;

    @Option(names = "--prompt", required = true, description = "Prompt text.")
    String prompt;

    @Option(names = "--response", required = true, description = "A response to score (repeatable).")
    List<String> responses;

    @picocli.CommandLine.Mixin
    RemoteSecurityOptions remoteSecurity = new RemoteSecurityOptions();

    @Option(names = "--timeout", defaultValue = "60", description = "Deadline in seconds (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() {
        ScoreResponse r = RemoteCalls.call(remote, remoteSecurity.client(), RewardServiceGrpcClient.Score,
                ScoreRequest.newBuilder().setPrompt(prompt).addAllResponses(responses).build(),
                Duration.ofSeconds(timeoutSeconds));
        System.out.printf(Locale.ROOT, "%s reward model, version %d%n",
                r.getModelKind().name().replace("REWARD_KIND_", "").toLowerCase(Locale.ROOT), r.getModelVersion());
        for (int i = 0; i < r.getScoresCount(); i++) {
            RewardScore s = r.getScores(i);
            System.out.printf(Locale.ROOT, "%8.4f  p=%.4f  %s%n", s.getRaw(), s.getProbability(), responses.get(i));
        }
        return 0;
    }
}
