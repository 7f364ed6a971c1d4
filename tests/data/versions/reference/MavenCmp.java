// Reference harness for the differential tests: reads "A<TAB>B" lines on stdin and prints
// "<", "=" or ">" as Maven's own org.apache.maven.artifact.versioning.ComparableVersion
// orders them. Compiled at test time against the maven-artifact jar Debian ships.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class MavenCmp {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            int tab = line.indexOf('\t');
            int r = new ComparableVersion(line.substring(0, tab))
                    .compareTo(new ComparableVersion(line.substring(tab + 1)));
            out.write(r < 0 ? "<" : r > 0 ? ">" : "=");
            out.newLine();
        }
        out.flush();
    }
}
