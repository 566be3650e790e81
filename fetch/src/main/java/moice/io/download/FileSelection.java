package moice.io.download;

import moice.MoiceException;
import moice.io.Json;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Which files of a Hub repository a pull fetches. */
final class FileSelection {
    /** Small files fetched by default when the repository has them. */
    static final List<String> DEFAULT_FILES = List.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja");
    static final String SAFETENSORS_INDEX = "model.safetensors.index.json";
    static final String SINGLE_SAFETENSORS = "model.safetensors";

    private FileSelection() {
    }

    /** The files matching any pattern, in repository order; patterns are shell globs ({@code *}, {@code ?}). */
    static List<String> matching(List<String> files, List<String> patterns) {
        List<Pattern> compiled = patterns.stream().map(FileSelection::globToRegex).toList();
        return files.stream().filter(f -> compiled.stream().anyMatch(p -> p.matcher(f).matches())).toList();
    }

    /**
     * The default selection before shards: {@link #DEFAULT_FILES} present in the repository, plus the weights
     * entry point: the safetensors index when there is one (its shards follow from {@link #shardsFromIndex}), else
     * {@code model.safetensors}, else every top-level {@code *.safetensors}. Taking the index's shards rather than
     * every *.safetensors avoids fetching duplicate layouts (e.g. Mistral's consolidated.safetensors).
     */
    static List<String> defaults(List<String> files) {
        List<String> selected = new ArrayList<>();
        for (String f : files) if (DEFAULT_FILES.contains(f)) selected.add(f);
        if (files.contains(SAFETENSORS_INDEX)) {
            selected.add(SAFETENSORS_INDEX);
        } else if (files.contains(SINGLE_SAFETENSORS)) {
            selected.add(SINGLE_SAFETENSORS);
        } else {
            for (String f : files) if (!f.contains("/") && f.endsWith(".safetensors")) selected.add(f);
        }
        return selected;
    }

    /** True when the default selection found weights. */
    static boolean hasWeights(List<String> selection) {
        return selection.stream().anyMatch(f -> f.endsWith(".safetensors") || f.equals(SAFETENSORS_INDEX));
    }

    /** The shard files named by a downloaded {@code model.safetensors.index.json}, each checked to exist. */
    static List<String> shardsFromIndex(Path index, List<String> repoFiles) {
        String what = index + ": weight_map";
        Map<String, Object> weightMap = Json.object(
                Json.object(Json.parseFile(index), index.toString()).get("weight_map"), what);
        Set<String> shards = new LinkedHashSet<>();
        for (Map.Entry<String, Object> e : weightMap.entrySet()) {
            shards.add(Json.string(e.getValue(), what + "." + e.getKey()));
        }
        // The index sits at the repository root, so shard names are repository paths as they are.
        for (String shard : shards) {
            if (!repoFiles.contains(shard)) {
                throw new MoiceException(what + ": names shard '" + shard + "', which the repository does not hold");
            }
        }
        return new ArrayList<>(shards);
    }

    private static Pattern globToRegex(String glob) {
        StringBuilder re = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (char c : glob.toCharArray()) {
            if (c == '*' || c == '?') {
                if (!literal.isEmpty()) re.append(Pattern.quote(literal.toString()));
                literal.setLength(0);
                re.append(c == '*' ? ".*" : ".");
            } else {
                literal.append(c);
            }
        }
        if (!literal.isEmpty()) re.append(Pattern.quote(literal.toString()));
        return Pattern.compile(re.toString(), Pattern.DOTALL);
    }
}
