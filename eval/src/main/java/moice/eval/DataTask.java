package moice.eval;

import moice.MoiceException;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * A task read from a data file the user has (lost-in-the-middle MDQA, L-Eval, LongBench). Its samples come from the
 * file in order; a length is the budget the prompt must fit, reached by cutting the long document where the
 * benchmark cuts it (or an error when the benchmark never cuts).
 */
public interface DataTask {
    /** Task name as the command line spells it. */
    String name();

    /** Number of samples in the file. */
    int size();

    /** Sample {@code index} fitted to {@code length} tokens. */
    Sample sample(int index, int length, PromptEncoder encoder);

    /** The tasks read from files. */
    List<String> NAMES = List.of("mdqa", "leval-coursera", "leval-quality", "leval-tpo", "leval-sci_fi", "longbench");

    /** Task {@code name} (one of {@link #NAMES}) read from {@code file}. */
    static DataTask open(String name, Path file) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.equals("mdqa")) return MdqaTask.read(file);
        if (n.equals("longbench")) return LongBenchTask.read(file);
        if (n.startsWith("leval-")) return LEvalTask.read(LEvalTask.Kind.named(n.substring(6)), file);
        throw new MoiceException("unknown data task '" + name + "'");
    }
}
