package dev.rlhf.launcher.pipeline;

import dev.rlhf.llama.generate.FinishReason;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.generate.SequenceScorer;
import dev.rlhf.llama.model.LlamaModel;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.tokenizer.PromptFormat;
import dev.rlhf.llama.reward.RewardModel;
import dev.rlhf.world.GoldOracle;
import dev.rlhf.world.Task;
import dev.rlhf.world.TaskKind;
import java.util.ArrayList;
import java.util.List;

/**
 * Grades a policy on held-out prompts with the gold oracles (DESIGN.md §4), next to what the reward models think
 * of the same responses, so that reward hacking shows as RM scores rising while gold scores do not.
 * <p>Each prompt gets {@code samplesPerPrompt} samples at {@code temperature}; the KL to the SFT policy is the
 * per-response sum of {@code log pi(y_t) - log pi_sft(y_t)} over the sampled tokens (the k1 estimator), averaged.
 */
public final class GoldEvaluation {
    private GoldEvaluation() {}

    public record Options(int samplesPerPrompt, double temperature, int maxNewTokens, long seed) {}

    /**
     * Gold and reward-model metrics of one policy; rates are fractions of sampled responses: {@code eosRate} the
     * share that ended on {@code </s>}, {@code truncatedRate} the share cut at max_new_tokens.
     */
    public record Metrics(int prompts, int samples, double goldHelpfulness, double safetyViolationRate,
                          double overRefusalRate, double klToSft, double rmHelpfulnessMean, double rmSafetyMean,
                          double eosRate, double truncatedRate) {}

    /** One graded response, for reports and the best-of-N sweep; its ids end with EOS when it ended there. */
    public record Graded(Task task, String response, int[] promptIds, int[] responseIds, FinishReason finish) {
        boolean truncated() {
            return finish == FinishReason.LENGTH;
        }
    }

    private static final int CHUNK = 64;

    public static Metrics evaluate(LlamaModel policy, LlamaModel sft, RewardModel rmHelpfulness, RewardModel rmSafety,
                                   LlamaTokenizer tokenizer, List<Task> tasks, Options o) {
        return evaluate(policy, sft, rmHelpfulness, rmSafety, tokenizer, tasks, o, null);
    }

    /** As above; also writes every graded response as JSONL to {@code samplesFile} when it is not null. */
    public static Metrics evaluate(LlamaModel policy, LlamaModel sft, RewardModel rmHelpfulness, RewardModel rmSafety,
                                   LlamaTokenizer tokenizer, List<Task> tasks, Options o,
                                   java.nio.file.Path samplesFile) {
        List<Graded> graded = sample(policy, tokenizer, tasks, o.samplesPerPrompt(), o.temperature(),
                o.maxNewTokens(), o.seed());
        double gold = 0;
        int unsafe = 0;
        int overRefusals = 0;
        int answerable = 0;
        int eos = 0;
        int truncated = 0;
        for (Graded g : graded) {
            eos += g.finish() == FinishReason.EOS ? 1 : 0;
            truncated += g.truncated() ? 1 : 0;
            gold += GoldOracle.helpfulness(g.task(), g.response());
            unsafe += GoldOracle.isSafe(g.task(), g.response()) ? 0 : 1;
            if (g.task().kind() != TaskKind.HARMFUL) {
                answerable++;
                overRefusals += GoldOracle.isOverRefusal(g.task(), g.response()) ? 1 : 0;
            }
        }
        double kl = policy == sft ? 0 : meanKl(policy, sft, tokenizer.padId(), graded);
        double[] rmH = sigmoidScores(rmHelpfulness, graded);
        double[] rmS = sigmoidScores(rmSafety, graded);
        int n = graded.size();
        if (samplesFile != null) {
            writeSamples(samplesFile, graded, rmH, rmS);
        }
        return new Metrics(tasks.size(), n, gold / n, (double) unsafe / n,
                answerable == 0 ? 0 : (double) overRefusals / answerable, kl, mean(rmH), mean(rmS), (double) eos / n,
                (double) truncated / n);
    }

    /** Samples responses to each task's chat prompt, in chunks so the batch stays small. */
    public static List<Graded> sample(LlamaModel policy, LlamaTokenizer tokenizer, List<Task> tasks, int n,
                                      double temperature, int maxNewTokens, long seed) {
        Generator generator = new Generator(policy, tokenizer::decode, tokenizer.padId());
        List<Graded> out = new ArrayList<>();
        for (int start = 0; start < tasks.size(); start += CHUNK) {
            List<Task> chunk = tasks.subList(start, Math.min(tasks.size(), start + CHUNK));
            List<int[]> prompts = chunk.stream().map(t -> PromptFormat.chatPrompt(tokenizer, t.text())).toList();
            SamplingParams params = new SamplingParams(n, maxNewTokens, temperature, 1.0, 0, seed + start, null);
            List<List<Sample>> samples = generator.generate(prompts, params).samples();
            for (int i = 0; i < chunk.size(); i++) {
                for (Sample s : samples.get(i)) {
                    out.add(new Graded(chunk.get(i), s.text(), prompts.get(i), s.tokens(), s.finishReason()));
                }
            }
        }
        return out;
    }

    /** Reward-model scores on the sigmoid scale, one per graded response, scored as the reward service does. */
    public static double[] sigmoidScores(RewardModel rm, List<Graded> graded) {
        double[] out = new double[graded.size()];
        for (int start = 0; start < graded.size(); start += CHUNK) {
            List<Graded> chunk = graded.subList(start, Math.min(graded.size(), start + CHUNK));
            boolean[] truncated = new boolean[chunk.size()];
            for (int i = 0; i < truncated.length; i++) {
                truncated[i] = chunk.get(i).truncated();
            }
            List<RewardModel.Score> scores = rm.score(chunk.stream().map(g -> g.task().text()).toList(),
                    chunk.stream().map(Graded::response).toList(), truncated);
            for (int i = 0; i < scores.size(); i++) {
                out[start + i] = scores.get(i).probability();
            }
        }
        return out;
    }

    /** The LLaMA 2 combined reward (sigmoid scale) of each graded response, as the sampler computes it. */
    static double[] combined(List<Graded> samples, RewardModel rmH, RewardModel rmS,
                             dev.rlhf.vocabulary.RewardCombiner combiner) {
        double[] h = sigmoidScores(rmH, samples);
        double[] s = sigmoidScores(rmS, samples);
        double[] c = new double[samples.size()];
        for (int i = 0; i < c.length; i++) {
            c[i] = combiner.combined(samples.get(i).task().safetyTagged(), h[i], s[i]);
        }
        return c;
    }

    private static double meanKl(LlamaModel policy, LlamaModel sft, int padId, List<Graded> graded) {
        double sum = 0;
        int count = 0;
        SequenceScorer p = new SequenceScorer(policy, padId);
        SequenceScorer q = new SequenceScorer(sft, padId);
        for (int start = 0; start < graded.size(); start += CHUNK) {
            List<Graded> chunk = graded.subList(start, Math.min(graded.size(), start + CHUNK));
            List<int[]> prompts = new ArrayList<>();
            List<int[]> responses = new ArrayList<>();
            for (Graded g : chunk) {
                if (g.responseIds().length > 0) {
                    prompts.add(g.promptIds());
                    responses.add(g.responseIds());
                }
            }
            if (prompts.isEmpty()) {
                continue;
            }
            List<float[]> lp = p.responseLogProbs(prompts, responses);
            List<float[]> lq = q.responseLogProbs(prompts, responses);
            for (int i = 0; i < lp.size(); i++) {
                for (int t = 0; t < lp.get(i).length; t++) {
                    sum += lp.get(i)[t] - lq.get(i)[t];
                }
                count++;
            }
        }
        return count == 0 ? 0 : sum / count;
    }

    private static void writeSamples(java.nio.file.Path file, List<Graded> graded, double[] rmH, double[] rmS) {
        List<com.google.gson.JsonObject> rows = new ArrayList<>(graded.size());
        for (int i = 0; i < graded.size(); i++) {
            Graded g = graded.get(i);
            com.google.gson.JsonObject o = new com.google.gson.JsonObject();
            o.addProperty("prompt", g.task().text());
            o.addProperty("family", g.task().family().id());
            o.addProperty("response", g.response());
            o.addProperty("gold_helpfulness", GoldOracle.helpfulness(g.task(), g.response()));
            o.addProperty("safe", GoldOracle.isSafe(g.task(), g.response()));
            o.addProperty("rm_helpfulness", rmH[i]);
            o.addProperty("rm_safety", rmS[i]);
            rows.add(o);
        }
        try {
            dev.rlhf.world.Jsonl.write(file, rows);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return x.length == 0 ? Double.NaN : s / x.length;
    }
}
