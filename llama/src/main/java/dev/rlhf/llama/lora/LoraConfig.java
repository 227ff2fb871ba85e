package dev.rlhf.llama.lora;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A LoRA adapter's shape (Hu et al., 2021, "LoRA: Low-Rank Adaptation of Large Language Models", §4.1): each
 * targeted projection {@code W} (out x in) gains {@code B A} with {@code A} (r x in) and {@code B} (out x r), and
 * computes {@code W x + (alpha / r) B (A x)}. {@code B} starts at zero, so a new adapter changes nothing.
 *
 * @param rank r, at least 1
 * @param alpha lora_alpha; the update is scaled by alpha / r (PEFT's default scaling; rsLoRA is refused)
 * @param dropout lora_dropout on the adapter's input, {@code B A dropout(x)}: in a learner's training steps only
 *     (generation and scoring never drop)
 * @param targets the projections that carry an adapter, a subset of {@link #ALL_TARGETS}, in that order
 */
public record LoraConfig(int rank, double alpha, double dropout, List<String> targets) {
    /** The seven linear projections of a Llama decoder layer, by their HF module names. */
    public static final List<String> ALL_TARGETS = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
            "up_proj", "down_proj");

    public LoraConfig {
        if (rank < 1) {
            throw new IllegalArgumentException("lora r must be at least 1, got " + rank);
        }
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException("lora alpha must be finite and > 0, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("lora dropout must be in [0, 1), got " + dropout);
        }
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("lora targets must name at least one of " + ALL_TARGETS);
        }
        Set<String> unique = new LinkedHashSet<>(targets);
        for (String t : unique) {
            if (!ALL_TARGETS.contains(t)) {
                throw new IllegalArgumentException("lora target '" + t + "' is not supported; supported: "
                        + ALL_TARGETS + " (or all-linear)");
            }
        }
        targets = ALL_TARGETS.stream().filter(unique::contains).toList();
    }

    /** The factor alpha / r in front of {@code B A}. */
    public double scale() {
        return alpha / rank;
    }

    /** Whether module {@code name} (e.g. {@code q_proj}) carries an adapter. */
    public boolean targets(String module) {
        return targets.contains(module);
    }

    /**
     * Parses the command line's form, {@code r=16,alpha=32,dropout=0,targets=q_proj,v_proj}: {@code r} is
     * required; alpha defaults to 2r, dropout to 0 and targets to all seven projections ({@code all-linear}).
     * A value without a key continues the targets list.
     */
    public static LoraConfig parse(String spec) {
        Integer rank = null;
        Double alpha = null;
        double dropout = 0;
        List<String> targets = new ArrayList<>();
        String lastKey = null;
        for (String part : spec.split(",", -1)) {
            String p = part.trim();
            int eq = p.indexOf('=');
            if (eq < 0) {
                if (!"targets".equals(lastKey) || p.isEmpty()) {
                    throw new IllegalArgumentException("lora: expected key=value, got '" + p
                            + "' (form: r=16,alpha=32,dropout=0,targets=q_proj,v_proj)");
                }
                targets.addAll(targetList(p));
                continue;
            }
            String key = p.substring(0, eq).trim().toLowerCase(Locale.ROOT);
            String value = p.substring(eq + 1).trim();
            lastKey = key;
            try {
                switch (key) {
                    case "r", "rank" -> rank = Integer.parseInt(value);
                    case "alpha", "lora_alpha" -> alpha = Double.parseDouble(value);
                    case "dropout", "lora_dropout" -> dropout = Double.parseDouble(value);
                    case "targets", "target_modules" -> targets.addAll(targetList(value));
                    default -> throw new IllegalArgumentException("lora: unknown key '" + key
                            + "' (known: r, alpha, dropout, targets)");
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("lora: " + key + " must be a number, got '" + value + "'");
            }
        }
        if (rank == null) {
            throw new IllegalArgumentException("lora: r is required (form: r=16,alpha=32,targets=q_proj,v_proj)");
        }
        return new LoraConfig(rank, alpha == null ? 2.0 * rank : alpha, dropout,
                targets.isEmpty() ? ALL_TARGETS : targets);
    }

    private static List<String> targetList(String value) {
        List<String> out = new ArrayList<>();
        for (String t : value.split("[+:]")) {
            String name = t.trim();
            if (name.equals("all-linear") || name.equals("all")) {
                out.addAll(ALL_TARGETS);
            } else if (!name.isEmpty()) {
                out.add(name);
            }
        }
        return out;
    }

    /** The command line's form, which {@link #parse} reads back. */
    @Override
    public String toString() {
        return "r=" + rank + ",alpha=" + alpha + ",dropout=" + dropout + ",targets=" + String.join("+", targets);
    }
}
