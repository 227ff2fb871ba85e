package dev.rlhf.launcher;

import dev.rlhf.vocabulary.Llama2Recipe;
import dev.rlhf.llama.data.JsonlExamples.TextExample;
import dev.rlhf.llama.tokenizer.LlamaTokenizer;
import dev.rlhf.llama.train.TrainingExample;
import picocli.CommandLine.Command;

/** {@code rlhf sft}: supervised fine-tuning on prompt/response pairs with the loss zeroed on prompts. */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = {"Supervised fine-tuning on JSONL {\"prompt\": ..., \"response\": ...} records (LLaMA 2 §3.1): "
                + "examples are packed as <s> prompt <sep> response </s>, loss only on response tokens.",
            "Defaults from the recipe: lr 2e-5, 2 epochs, batch 64, weight decay 0.1, cosine schedule."})
final class SftCommand extends TrainCommandBase {

    @Override
    String stage() {
        return "sft";
    }

    @Override
    double defaultLearningRate() {
        return Llama2Recipe.SFT_LEARNING_RATE;
    }

    @Override
    double defaultEpochs() {
        return Llama2Recipe.SFT_EPOCHS;
    }

    @Override
    TrainingExample toExample(TextExample e, LlamaTokenizer tokenizer) {
        if (e.isPlainText()) {
            throw new IllegalArgumentException("sft needs {\"prompt\": ..., \"response\": ...} records, found a "
                    + "{\"text\": ...} record in " + data);
        }
        return new TrainingExample(tokenizer.encode(e.prompt()), tokenizer.encode(e.response()));
    }
}
