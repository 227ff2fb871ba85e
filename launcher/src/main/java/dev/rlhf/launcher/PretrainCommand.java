package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import dev.rlhf.llama.data.JsonlExamples.TextExample;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.TrainingExample;
import picocli.CommandLine.Command;

/** {@code rlhf pretrain}: next-token training on every token of {"text": ...} records. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = {"Pre-train (or continue pre-training) a model on JSONL {\"text\": ...} records "
                + "(prompt/response records are trained as plain text).",
            "AdamW (0.9, 0.95, eps 1e-5, wd 0.1), warm-up + cosine to 10%%, clip 1.0 (LLaMA 2 §2.2). "
                    + "Defaults: lr 3e-4, 1 epoch."})
final class PretrainCommand extends TrainCommandBase {
    @Override
    String stage() {
        return "pretrain";
    }

    @Override
    double defaultLearningRate() {
        return Llama2Recipe.PRETRAIN_LEARNING_RATE;
    }

    @Override
    double defaultEpochs() {
        return 1;
    }

    @Override
    TrainingExample toExample(TextExample e, LlamaTokenizer tokenizer) {
        String text = e.isPlainText() ? e.response() : e.prompt() + e.response();
        return TrainingExample.text(tokenizer.encode(text));
    }
}
