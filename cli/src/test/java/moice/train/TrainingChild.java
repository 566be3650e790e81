package moice.train;

import moice.attention.Routers;

import java.nio.file.Path;

/**
 * A training run in its own JVM, for the kill-and-resume test: {@code TrainingChild DIR STEPS SLEEP_MS resume|fresh}
 * trains the {@link TrainerTest#fixture} setup into DIR.
 */
public final class TrainingChild {
    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int steps = Integer.parseInt(args[1]);
        long sleep = Long.parseLong(args[2]);
        Trainer t = new Trainer(TrainerTest.config(dir, steps, TrainerTest.LR), new QuadraticObjective(sleep, -1),
                TrainerTest.data(), null);
        Routers init = TrainerTest.initialRouters();
        if (args[3].equals("resume")) t.resume(init);
        else t.train(init);
    }
}
