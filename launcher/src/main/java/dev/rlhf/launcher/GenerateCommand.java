package dev.rlhf.launcher;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.rlhf.llama.generate.Generator;
import dev.rlhf.llama.generate.Sample;
import dev.rlhf.vocabulary.SamplingParams;
import dev.rlhf.llama.generate.TokenDecoder;
import dev.rlhf.llama.tokenizer.PromptFormat;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf generate}: sample responses from a local model directory. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Sample responses from a model with a KV cache.",
            "A --prompt is formatted as <s> prompt <sep> (the SFT layout) unless --raw; --ids are used as given."})
final class GenerateCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", description = "Model directory (local generation).")
    Path model;

    @Option(names = "--remote", description = "Call a running policy service at HOST:PORT instead of a local model.")
    String remote;

    @picocli.CommandLine.Mixin
    RemoteSecurityOptions remoteSecurity = new RemoteSecurityOptions();

    @Option(names = "--timeout", defaultValue = "120", description = "Deadline of a --remote call in seconds "
            + "(default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--prompt", description = "Prompt text.")
        String prompt;

        @Option(names = "--ids", split = ",", description = "Prompt token ids, comma-separated.")
        int[] ids;
    }

    @Option(names = "--raw", description = "Plain continuation: <s> prompt, without the <sep> separator.")
    boolean raw;

    @Option(names = "--n", defaultValue = "1", description = "Samples (default: ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "1.0", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus mass in (0, 1] (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--top-k", defaultValue = "0", description = "0 = off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--seed", defaultValue = "0", description = "Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--stop", description = "Stop string (repeatable).")
    List<String> stop;

    @Option(names = "--json", description = "Print JSON: samples with tokens, text, logprobs, finish_reason; stats.")
    boolean json;

    @picocli.CommandLine.Mixin
    AdapterOptions adapterOptions = new AdapterOptions();

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--cpu-decode", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "With --n 1 on a CPU, decode with the Vector API decoder (3-5x faster than the DJL "
                    + "engine at batch 1; it copies the weights into the Java heap). --no-cpu-decode: always DJL.")
    boolean cpuDecode;

    @Override
    public Integer call() {
        if ((model == null) == (remote == null)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "give exactly one of --model DIR or --remote HOST:PORT");
        }
        SamplingParams params = new SamplingParams(n, maxNewTokens, temperature, topP, topK, seed, stop);
        if (remote != null) {
            return callRemote(params);
        }
        try (ModelFiles files = ModelFiles.open(model, adapterOptions, device)) {
            int[] promptIds;
            TokenDecoder decoder;
            if (input.prompt != null) {
                if (input.prompt.isEmpty()) {
                    throw new IllegalArgumentException("--prompt is empty");
                }
                var tok = files.requireTokenizer("for --prompt (use --ids)");
                promptIds = raw ? PromptFormat.rawPrompt(tok, input.prompt) : PromptFormat.chatPrompt(tok, input.prompt);
                decoder = tok::decode;
            } else {
                promptIds = input.ids;
                decoder = files.tokenizer != null ? files.tokenizer::decode : TokenDecoder.IDS;
            }
            int pad = files.tokenizer != null ? files.tokenizer.padId() : 0;
            java.util.Optional<dev.rlhf.llama.cpu.SequenceDecoder> batchOne = cpuDecode && params.n() == 1
                    ? dev.rlhf.llama.cpu.CpuDecoding.open(files.model, 0) : java.util.Optional.empty();
            Generator.Result result;
            try {
                result = new Generator(files.model, decoder, pad, batchOne.orElse(null))
                        .generate(List.of(promptIds), params);
            } finally {
                batchOne.ifPresent(dev.rlhf.llama.cpu.SequenceDecoder::close);
            }
            List<Sample> samples = result.samples().get(0);
            if (json) {
                System.out.println(toJson(samples, result.stats()));
            } else {
                for (int i = 0; i < samples.size(); i++) {
                    Sample s = samples.get(i);
                    System.out.printf(Locale.ROOT, "--- sample %d (%d tokens, %s) ---%n%s%n", i + 1,
                            s.tokens().length, s.finishReason().name().toLowerCase(Locale.ROOT), s.text());
                }
                System.err.printf(Locale.ROOT, "prefill %.0f tokens/s, decode %.0f tokens/s%n",
                        result.stats().prefillTokensPerSecond(), result.stats().decodeTokensPerSecond());
            }
        }
        return 0;
    }

    private int callRemote(SamplingParams params) {
        dev.rlhf.proto.v1.SamplingParams.Builder p = dev.rlhf.proto.v1.SamplingParams.newBuilder().setN(params.n())
                .setMaxNewTokens(params.maxNewTokens()).setTemperature((float) params.temperature())
                .setTopP((float) params.topP()).setTopK(params.topK()).setSeed(params.seed())
                .addAllStop(params.stop());
        dev.rlhf.proto.v1.GenerateRequest.Builder req = dev.rlhf.proto.v1.GenerateRequest.newBuilder().setParams(p);
        if (input.prompt != null) {
            req.setPrompt(input.prompt);
        } else {
            req.setPromptIds(dev.rlhf.proto.v1.TokenIds.newBuilder()
                    .addAllIds(Arrays.stream(input.ids).boxed().toList()));
        }
        dev.rlhf.proto.v1.GenerateResponse r = RemoteCalls.call(remote, remoteSecurity.client(),
                dev.rlhf.proto.v1.PolicyServiceGrpcClient.Generate, req.build(),
                java.time.Duration.ofSeconds(timeoutSeconds));
        List<Sample> samples = r.getSamplesList().stream().map(s -> new Sample(
                s.getTokensList().stream().mapToInt(Integer::intValue).toArray(), s.getText(), toFloats(s.getLogprobsList()),
                switch (s.getFinishReason()) {
                    case FINISH_REASON_EOS -> dev.rlhf.llama.generate.FinishReason.EOS;
                    case FINISH_REASON_STOP -> dev.rlhf.llama.generate.FinishReason.STOP;
                    default -> dev.rlhf.llama.generate.FinishReason.LENGTH;
                })).toList();
        if (json) {
            System.out.println(toJson(samples, new Generator.Stats(0, 0, 0, 0)));
        } else {
            for (int i = 0; i < samples.size(); i++) {
                System.out.printf(Locale.ROOT, "--- sample %d (%d tokens, %s, policy version %d) ---%n%s%n", i + 1,
                        samples.get(i).tokens().length,
                        samples.get(i).finishReason().name().toLowerCase(Locale.ROOT), r.getPolicyVersion(),
                        samples.get(i).text());
            }
        }
        return 0;
    }

    private static float[] toFloats(List<Float> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    static String toJson(List<Sample> samples, Generator.Stats stats) {
        JsonObject root = new JsonObject();
        JsonArray arr = new JsonArray();
        for (Sample s : samples) {
            JsonObject o = new JsonObject();
            JsonArray tokens = new JsonArray();
            Arrays.stream(s.tokens()).forEach(tokens::add);
            JsonArray logprobs = new JsonArray();
            for (float lp : s.logprobs()) {
                logprobs.add(lp);
            }
            o.add("tokens", tokens);
            o.addProperty("text", s.text());
            o.add("logprobs", logprobs);
            o.addProperty("finish_reason", s.finishReason().name().toLowerCase(Locale.ROOT));
            arr.add(o);
        }
        root.add("samples", arr);
        JsonObject st = new JsonObject();
        st.addProperty("prefill_tokens_per_s", stats.prefillTokensPerSecond());
        st.addProperty("decode_tokens_per_s", stats.decodeTokensPerSecond());
        st.addProperty("prefill_tokens", stats.prefillTokens());
        st.addProperty("decode_tokens", stats.decodeTokens());
        root.add("stats", st);
        Gson gson = new GsonBuilder().disableHtmlEscaping().create();
        return gson.toJson(root);
    }
}
