using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using GruOnnx.Models;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;

// Pull of one ~100 MB GRU model from the real registry (Distribution 2.8 on 127.0.0.1): GruRegistry's client, which
// hashes every byte and writes to a .partial file it moves into place, vs `curl -o` of the same blob URL, which only
// writes. `curl -o && sha256sum` is the shell way to get the same guarantee. Rounds alternate so load falls on all alike.
var outputDirectory = args.Length > 1 && args[0] == "--output" ? args[1] : "bench/results";
var rounds = args.Length > 3 && args[2] == "--rounds" ? int.Parse(args[3], CultureInfo.InvariantCulture) : 7;
Directory.CreateDirectory(Path.Combine(Repository.Root, outputDirectory));

// H=I=2048, one layer: W and R are 3·2048·2048 floats each, about 100 MB in all; a real model, not random bytes.
var spec = new GruModelSpec(InputSize: 2048, HiddenSize: 2048, Seed: 4);
var model = await GruTestModels.WriteAsync(spec);
var size = new FileInfo(model.Path).Length;
await using var registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);
await using var services = new ServiceCollection().AddLogging()
    .AddRegistryClient(o => o.PlainHttpRegistries.Add(registry.Host)).BuildServiceProvider();
var client = new ModelArtifactClient(services.GetRequiredService<DistributionClientFactory>().Create(RegistryCredentials.Anonymous));
var reference = OciReference.Parse($"oci://{registry.Host}/bench/model:1");
var config = new ModelConfig("bench", "registry-bench", [], [], null);

var push = Stopwatch.StartNew();
await client.PushAsync(model.Path, config, reference, null, null, CancellationToken.None);
push.Stop();
var resolved = await client.ResolveAsync(reference, CancellationToken.None);
var blobUrl = $"http://{registry.Host}/v2/bench/model/blobs/{resolved.LayerDigest}";
var scratch = Directory.CreateTempSubdirectory("gru-registry-bench-").FullName;
var target = Path.Combine(scratch, "model.onnx");

var clientTimes = new List<double>();
var curlTimes = new List<double>();
var curlShaTimes = new List<double>();
await PullWithClientAsync(); // warm-up: JIT, connection, page cache of the registry's blob
await RunAsync("curl", ["-s", "-f", "-o", target, blobUrl]);
for (var round = 0; round < rounds; round++)
{
    clientTimes.Add(await PullWithClientAsync());
    curlTimes.Add(await RunAsync("curl", ["-s", "-f", "-o", target, blobUrl]));
    curlShaTimes.Add(await RunAsync("sh", ["-c", $"curl -s -f -o '{target}' '{blobUrl}' && sha256sum '{target}' > /dev/null"]));
    Console.WriteLine($"round {round + 1}: client {clientTimes[^1]:F3}s curl {curlTimes[^1]:F3}s curl+sha256sum {curlShaTimes[^1]:F3}s");
}

Directory.Delete(scratch, recursive: true);
File.Delete(model.Path);

double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
double MiBps(double seconds) => size / seconds / (1 << 20);
var (client50, curl50, curlSha50) = (Median(clientTimes), Median(curlTimes), Median(curlShaTimes));
var curlVersion = (await Output("curl", "--version")).Split('\n')[0];
var report = new StringBuilder()
    .AppendLine("# Registry: pull of a ~100 MB model, GruRegistry client vs curl")
    .AppendLine()
    .AppendLine(CultureInfo.InvariantCulture, $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores (load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end), {RuntimeInformation.OSDescription}, .NET {Environment.Version}, {curlVersion}.")
    .AppendLine(CultureInfo.InvariantCulture, $"Model: GRU I=2048 H=2048, one layer, {size} bytes ({size / (double)(1 << 20):F1} MiB), pushed once ({push.Elapsed.TotalSeconds:F2}s, in 64 MiB PATCH chunks) to Debian's docker-registry 2.8 on 127.0.0.1 (filesystem storage).")
    .AppendLine(CultureInfo.InvariantCulture, $"{rounds} rounds after a warm-up, the three pulls alternating; medians. Each pull writes the whole file to the same scratch path.")
    .AppendLine("- **client**: `ModelArtifactClient.PullAsync` (GET blob, sha256 while streaming, write `.partial`, verify digest and size, move into place). The manifest is resolved once beforehand, as GruServer will.")
    .AppendLine("- **curl**: `curl -s -f -o FILE URL` of the same blob URL: download and write only, nothing verified.")
    .AppendLine("- **curl + sha256sum**: the same then `sha256sum FILE`: the shell's way to the client's guarantee.")
    .AppendLine()
    .AppendLine("| pull | median s | MiB/s | time ratio to curl |")
    .AppendLine("| --- | ---: | ---: | ---: |")
    .AppendLine(CultureInfo.InvariantCulture, $"| client (verified) | {client50:F3} | {MiBps(client50):F0} | {client50 / curl50:F2}x |")
    .AppendLine(CultureInfo.InvariantCulture, $"| curl | {curl50:F3} | {MiBps(curl50):F0} | 1.00x |")
    .AppendLine(CultureInfo.InvariantCulture, $"| curl + sha256sum | {curlSha50:F3} | {MiBps(curlSha50):F0} | {curlSha50 / curl50:F2}x |")
    .AppendLine()
    .AppendLine(CultureInfo.InvariantCulture, $"Client throughput is {curl50 / client50:P0} of curl's (curl time / client time).")
    .AppendLine("On a shared machine single rounds swing by 2x or more; the medians of alternating rounds are the comparable figures.")
    .AppendLine()
    .AppendLine("All rounds (s): client " + string.Join(", ", clientTimes.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))
        + "; curl " + string.Join(", ", curlTimes.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))
        + "; curl + sha256sum " + string.Join(", ", curlShaTimes.Select(t => t.ToString("F3", CultureInfo.InvariantCulture))) + ".");
var path = Path.Combine(Repository.Root, outputDirectory, "registry-pull.md");
await File.WriteAllTextAsync(path, report.ToString());
Console.WriteLine(report);
Console.WriteLine($"wrote {path}");

async Task<double> PullWithClientAsync()
{
    var watch = Stopwatch.StartNew();
    await client.PullAsync(resolved, target, null, CancellationToken.None);
    return watch.Elapsed.TotalSeconds;
}

static async Task<double> RunAsync(string file, string[] arguments)
{
    var watch = Stopwatch.StartNew();
    using var process = Process.Start(new ProcessStartInfo(file, arguments) { UseShellExecute = false })!;
    await process.WaitForExitAsync();
    return process.ExitCode == 0 ? watch.Elapsed.TotalSeconds : throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {process.ExitCode}");
}

static async Task<string> Output(string file, string argument)
{
    using var process = Process.Start(new ProcessStartInfo(file, argument) { RedirectStandardOutput = true, UseShellExecute = false })!;
    var text = await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    return text;
}
