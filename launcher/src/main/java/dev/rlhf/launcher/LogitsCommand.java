package dev.rlhf.launcher;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.rlhf.llama.model.LlamaModel;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code rlhf logits}: full-precision logits of a token sequence, to compare against other implementations. */
@Command(name = "logits", mixinStandardHelpOptions = true,
        description = "Print {\"logits\": [[...], ...]}: one row of vocab_size floats per input position "
                + "(causal, positions 0..T-1, no special tokens added).")
final class LogitsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Model directory.")
    Path model;

    @Option(names = "--ids", required = true, split = ",", description = "Token ids, comma-separated.")
    int[] ids;

    @picocli.CommandLine.Mixin
    AdapterOptions adapterOptions = new AdapterOptions();

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu or auto (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() {
        try (ModelFiles files = ModelFiles.open(model, adapterOptions, device); NDScope ignored = new NDScope()) {
            LlamaModel m = files.model;
            int vocab = m.config().vocabSize();
            int t = ids.length;
            if (t == 0 || t > m.config().maxPositionEmbeddings()) {
                throw new IllegalArgumentException("need 1.." + m.config().maxPositionEmbeddings() + " ids, got " + t);
            }
            long[] tokens = new long[t];
            for (int i = 0; i < t; i++) {
                if (ids[i] < 0 || ids[i] >= vocab) {
                    throw new IllegalArgumentException("token id " + ids[i] + " out of range [0, " + vocab + ")");
                }
                tokens[i] = ids[i];
            }
            NDManager nd = files.manager;
            Shape shape = new Shape(1, t);
            float[] logits = m.logits(m.hidden(nd.create(tokens, shape),
                    nd.arange(0, t, 1, DataType.INT64).reshape(shape), nd.ones(shape, DataType.INT32), null))
                    .toFloatArray();
            PrintStream out = System.out;
            StringBuilder sb = new StringBuilder(t * vocab * 12);
            sb.append("{\"logits\": [");
            for (int i = 0; i < t; i++) {
                sb.append(i == 0 ? "[" : ", [");
                for (int v = 0; v < vocab; v++) {
                    if (v > 0) {
                        sb.append(", ");
                    }
                    sb.append(logits[i * vocab + v]); // Float.toString round-trips exactly
                }
                sb.append(']');
            }
            sb.append("]}");
            out.println(sb);
        }
        return 0;
    }
}
