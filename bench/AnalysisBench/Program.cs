using System.Diagnostics;
using AnalysisBench;
using TestSupport;

// Canary-analysis benchmark. Usage: dotnet run -c Release --project bench/AnalysisBench -- [--out DIR] [--quick]
var settings = BenchSettings.Parse(args);
using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(30));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

var report = new Report();
var clock = Stopwatch.StartNew();
var loadBefore = LoadAverage();
Console.WriteLine("synthetic pairs through a real Prometheus …");
await new SyntheticScenario(settings, report).RunAsync(cts.Token);
var model = await GruTestModels.WriteAsync(cancellationToken: cts.Token);
var gruServer = new GruServerScenario(settings, report);
Console.WriteLine("GruServer breaches …");
await gruServer.RunBreachesAsync(model, cts.Token);
Console.WriteLine("GruServer healthy pairs …");
await gruServer.RunHealthyPairsAsync(model, cts.Token);
report.Notes.Add($"Benchmark wall time {clock.Elapsed.TotalMinutes:0.0} min on {Environment.ProcessorCount} cores shared with other work; " +
    $"load average (1/5/15 min) {loadBefore} at the start, {LoadAverage()} at the end.");
await report.WriteAsync(settings.OutputDirectory, settings.Describe("Each run is judged with compareToStable on."), cts.Token);

// Timing figures mean little without the load they were measured under.
static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
