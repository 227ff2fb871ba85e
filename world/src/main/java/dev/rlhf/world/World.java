package dev.rlhf.world;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * The synthetic assistant world: every prompt it can ask, the fact table behind the lookups, and seeded generators
 * for the pre-training corpus, the SFT set and the prompt splits.
 */
public final class World {
    /** Fixed so that every run of the demo talks about the same people; the date LLaMA 2 was released. */
    public static final long DEFAULT_FACT_SEED = 20230718L;

    /** Operand ranges: small enough that a ~100k-parameter model can learn the tables. */
    static final int MAX_ADDEND = 20;
    static final int MIN_FACTOR = 2;
    static final int MAX_FACTOR = 9;

    private final FactTable facts;
    private final List<Task> allTasks;
    private final Map<String, Task> byText;
    /** The tasks generators draw from: all of them, minus any excluded with {@link #without}. */
    private final Map<PromptFamily, List<Task>> pool;

    private World(FactTable facts, List<Task> allTasks, Map<String, Task> byText,
                  Map<PromptFamily, List<Task>> pool) {
        this.facts = facts;
        this.allTasks = allTasks;
        this.byText = byText;
        this.pool = pool;
    }

    /** The world of the demo and the tests. */
    public static World standard() {
        return withFactSeed(DEFAULT_FACT_SEED);
    }

    public static World withFactSeed(long factSeed) {
        FactTable facts = FactTable.generate(factSeed);
        List<Task> tasks = List.copyOf(buildTasks(facts));
        Map<String, Task> byText = new LinkedHashMap<>();
        Set<String> ids = new HashSet<>();
        Map<PromptFamily, List<Task>> pool = new EnumMap<>(PromptFamily.class);
        for (PromptFamily f : PromptFamily.values()) {
            pool.put(f, new ArrayList<>());
        }
        for (Task t : tasks) {
            if (byText.put(t.text(), t) != null || !ids.add(t.id())) {
                throw new IllegalStateException("two tasks share the text or id of " + t.text());
            }
            pool.get(t.family()).add(t);
        }
        return new World(facts, tasks, Collections.unmodifiableMap(byText), freeze(pool));
    }

    /**
     * The same world with these tasks removed from what the generators draw, e.g. held-out prompts kept out of the
     * SFT set; {@link #task(String)} still recognises them.
     */
    public World without(Collection<Task> excluded) {
        Set<String> ids = new HashSet<>();
        excluded.forEach(t -> ids.add(t.id()));
        Map<PromptFamily, List<Task>> kept = new EnumMap<>(PromptFamily.class);
        pool.forEach((f, tasks) -> kept.put(f, tasks.stream().filter(t -> !ids.contains(t.id())).toList()));
        return new World(facts, allTasks, byText, freeze(kept));
    }

    public FactTable facts() {
        return facts;
    }

    /** Every prompt of the world, in a fixed order. */
    public List<Task> allTasks() {
        return allTasks;
    }

    /** The tasks of one family that generators may draw. */
    public List<Task> tasks(PromptFamily family) {
        return pool.get(family);
    }

    /** The task with this prompt text (whitespace aside), so a prompt that travelled as text can be graded. */
    public Optional<Task> task(String promptText) {
        return Optional.ofNullable(byText.get(GoldOracle.normalize(promptText)));
    }

    /**
     * Disjoint train and held-out prompts, each with every family at least once and otherwise in proportion to
     * {@link PromptFamily#share()}; a family with too few prompts gives its surplus to the others.
     */
    public PromptSplits promptSplits(long seed, int trainSize, int heldOutSize) {
        int families = PromptFamily.values().length;
        if (trainSize < families || heldOutSize < families) {
            throw new IllegalArgumentException("each split needs at least one prompt per family (" + families
                    + "), got train " + trainSize + ", held-out " + heldOutSize);
        }
        SplittableRandom random = new SplittableRandom(seed);
        Map<PromptFamily, List<Task>> shuffled = new EnumMap<>(PromptFamily.class);
        Map<PromptFamily, Integer> capacity = new EnumMap<>(PromptFamily.class);
        for (PromptFamily f : PromptFamily.values()) {
            List<Task> tasks = new ArrayList<>(pool.get(f));
            shuffle(tasks, random);
            shuffled.put(f, tasks);
            // One prompt per family stays back so the held-out split can cover it too.
            capacity.put(f, tasks.size() - 1);
        }
        Map<PromptFamily, Integer> trainCounts = allocate(trainSize, capacity);
        capacity.replaceAll((f, c) -> c + 1 - trainCounts.get(f));
        Map<PromptFamily, Integer> heldOutCounts = allocate(heldOutSize, capacity);
        List<Task> train = new ArrayList<>();
        List<Task> heldOut = new ArrayList<>();
        for (PromptFamily f : PromptFamily.values()) {
            List<Task> tasks = shuffled.get(f);
            int t = trainCounts.get(f);
            train.addAll(tasks.subList(0, t));
            heldOut.addAll(tasks.subList(t, t + heldOutCounts.get(f)));
        }
        shuffle(train, random);
        shuffle(heldOut, random);
        return new PromptSplits(train, heldOut);
    }

    /**
     * High-quality demonstrations: the expected response to each drawn prompt (answers, refusals of harmful prompts,
     * helpful answers to borderline ones). Families in proportion to their shares; a prompt repeats only once its
     * family is used up.
     */
    public List<SftExample> sftSet(long seed, int size) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<PromptFamily, Integer> unlimited = new EnumMap<>(PromptFamily.class);
        for (PromptFamily f : PromptFamily.values()) {
            unlimited.put(f, pool.get(f).isEmpty() ? 0 : Integer.MAX_VALUE);
        }
        Map<PromptFamily, Integer> counts = allocate(size, unlimited);
        List<SftExample> out = new ArrayList<>();
        for (PromptFamily f : PromptFamily.values()) {
            List<Task> tasks = new ArrayList<>(pool.get(f));
            shuffle(tasks, random);
            for (int i = 0; i < counts.get(f); i++) {
                Task t = tasks.get(i % tasks.size());
                out.add(new SftExample(t.text(), t.expectedResponse()));
            }
        }
        shuffle(out, random);
        return out;
    }

    public List<String> pretrainingCorpus(long seed, int size) {
        return pretrainingCorpus(seed, size, CorpusMix.DEFAULT);
    }

    /**
     * Plain-text documents: fact sentences and "prompt response" texts with wrong answers, compliant answers to
     * harmful prompts and over-refusals mixed in at the rates of {@code mix}.
     */
    public List<String> pretrainingCorpus(long seed, int size, CorpusMix mix) {
        if (size < 0) {
            throw new IllegalArgumentException("size must be >= 0, got " + size);
        }
        SplittableRandom random = new SplittableRandom(seed);
        List<Task> helpful = new ArrayList<>();
        for (PromptFamily f : PromptFamily.values()) {
            if (f.kind() == TaskKind.HELPFUL) {
                helpful.addAll(pool.get(f));
            }
        }
        List<String> out = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            double u = random.nextDouble();
            if (u < mix.factFiller()) {
                out.add(factFiller(random));
            } else if (u < mix.factFiller() + mix.helpfulQa()) {
                out.add(qa(pickTask(helpful, random), random.nextDouble() < mix.wrongAnswerRate()
                        ? ResponseStyle.WRONG : ResponseStyle.CORRECT, random));
            } else if (u < mix.factFiller() + mix.helpfulQa() + mix.harmfulQa()) {
                out.add(qa(pickTask(pool.get(PromptFamily.HARMFUL), random),
                        random.nextDouble() < mix.unsafeCompletionRate()
                                ? ResponseStyle.COMPLIANCE : ResponseStyle.REFUSAL, random));
            } else {
                out.add(qa(pickTask(pool.get(PromptFamily.BORDERLINE), random),
                        random.nextDouble() < mix.overRefusalRate()
                                ? ResponseStyle.REFUSAL : ResponseStyle.CORRECT, random));
            }
        }
        return out;
    }

    private static String qa(Task task, ResponseStyle style, RandomGenerator random) {
        return task.text() + " " + Responses.render(task, style, random);
    }

    /** One to three true facts about one person. */
    private String factFiller(RandomGenerator random) {
        String person = Responses.pick(facts.people(), random);
        List<FactRelation> relations = new ArrayList<>(List.of(FactRelation.values()));
        shuffle(relations, random);
        int n = 1 + random.nextInt(relations.size());
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append(facts.statement(person, relations.get(i)));
        }
        return sb.toString();
    }

    private static Task pickTask(List<Task> tasks, RandomGenerator random) {
        if (tasks.isEmpty()) {
            throw new IllegalStateException("no prompts left to draw from in this family");
        }
        return Responses.pick(tasks, random);
    }

    /** Counts per family summing to {@code total}: one each, the rest by share, never beyond a family's capacity. */
    static Map<PromptFamily, Integer> allocate(int total, Map<PromptFamily, Integer> capacity) {
        Map<PromptFamily, Integer> counts = new EnumMap<>(PromptFamily.class);
        int assigned = 0;
        for (PromptFamily f : PromptFamily.values()) {
            if (capacity.get(f) < 1) {
                throw new IllegalArgumentException("no " + f.id() + " prompts left to draw");
            }
            counts.put(f, 1);
            assigned++;
        }
        while (assigned < total) {
            // D'Hondt: the next prompt goes to the family with the highest share per prompt it would then hold,
            // which keeps counts proportional and spreads a full family's surplus in proportion too.
            PromptFamily best = null;
            double bestPriority = Double.NEGATIVE_INFINITY;
            for (PromptFamily f : PromptFamily.values()) {
                double priority = f.share() / (counts.get(f) + 1);
                if (counts.get(f) < capacity.get(f) && priority > bestPriority) {
                    best = f;
                    bestPriority = priority;
                }
            }
            if (best == null) {
                throw new IllegalArgumentException("asked for " + total + " prompts but only " + assigned
                        + " are left to draw");
            }
            counts.merge(best, 1, Integer::sum);
            assigned++;
        }
        return counts;
    }

    // Collections.shuffle takes a java.util.Random only (until Java 21).
    private static <T> void shuffle(List<T> list, RandomGenerator random) {
        for (int i = list.size() - 1; i > 0; i--) {
            Collections.swap(list, i, random.nextInt(i + 1));
        }
    }

    private static Map<PromptFamily, List<Task>> freeze(Map<PromptFamily, List<Task>> pool) {
        Map<PromptFamily, List<Task>> out = new EnumMap<>(PromptFamily.class);
        pool.forEach((f, tasks) -> out.put(f, List.copyOf(tasks)));
        return Collections.unmodifiableMap(out);
    }

    private static List<Task> buildTasks(FactTable facts) {
        List<Task> tasks = new ArrayList<>();
        for (int a = 1; a <= MAX_ADDEND; a++) {
            for (int b = 1; b <= MAX_ADDEND; b++) {
                tasks.add(arithmetic(a, "plus", b, a + b));
            }
        }
        for (int a = 1; a <= MAX_ADDEND; a++) {
            for (int b = 1; b <= a; b++) {
                tasks.add(arithmetic(a, "minus", b, a - b));
            }
        }
        for (int a = MIN_FACTOR; a <= MAX_FACTOR; a++) {
            for (int b = MIN_FACTOR; b <= MAX_FACTOR; b++) {
                tasks.add(arithmetic(a, "times", b, a * b));
            }
        }
        for (String w : Lexicon.WORDS) {
            String reversed = new StringBuilder(w).reverse().toString();
            tasks.add(task(PromptFamily.REVERSE_WORD, "Reverse the word " + w + ".", w + " reversed is " + reversed
                    + ".", reversed));
        }
        for (String w : Lexicon.WORDS) {
            String n = Integer.toString(w.length());
            tasks.add(task(PromptFamily.COUNT_LETTERS, "How many letters are in " + w + "?", w + " has " + n
                    + " letters.", n));
        }
        for (String w : Lexicon.WORDS) {
            String upper = w.toUpperCase(Locale.ROOT);
            tasks.add(task(PromptFamily.UPPERCASE, "Write " + w + " in capitals.", w + " in capitals is " + upper
                    + ".", upper));
        }
        for (String person : facts.people()) {
            for (FactRelation r : FactRelation.values()) {
                tasks.add(task(PromptFamily.FACT_LOOKUP, r.question(person), facts.statement(person, r),
                        facts.value(person, r)));
            }
        }
        for (String harm : Lexicon.HARMS) {
            for (Lexicon.Opener o : Lexicon.OPENERS) {
                tasks.add(task(PromptFamily.HARMFUL, o.apply(harm), GoldOracle.REFUSAL, GoldOracle.REFUSAL));
            }
        }
        for (Lexicon.Borderline b : Lexicon.BORDERLINE) {
            for (Lexicon.Opener o : Lexicon.OPENERS) {
                tasks.add(task(PromptFamily.BORDERLINE, o.apply(b.request()), b.answer(), b.key()));
            }
        }
        return tasks;
    }

    private static Task arithmetic(int a, String op, int b, int result) {
        return task(PromptFamily.ARITHMETIC, "What is " + a + " " + op + " " + b + "?",
                a + " " + op + " " + b + " is " + result + ".", Integer.toString(result));
    }

    /** Ids are the family plus a slug of the text: stable across runs and readable in logs. */
    private static Task task(PromptFamily family, String text, String expected, String answer) {
        String slug = text.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
        return new Task(family.id() + "-" + slug, text, family, expected, answer);
    }
}
