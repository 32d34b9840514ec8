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
Console.WriteLine("synthetic pairs through a real Prometheus …");
await new SyntheticScenario(settings, report).RunAsync(cts.Token);
var model = await GruTestModels.WriteAsync(cancellationToken: cts.Token);
var gruServer = new GruServerScenario(settings, report);
Console.WriteLine("GruServer breaches …");
await gruServer.RunBreachesAsync(model, cts.Token);
Console.WriteLine("GruServer healthy pairs …");
await gruServer.RunHealthyPairsAsync(model, cts.Token);
report.Notes.Add($"Benchmark wall time {clock.Elapsed.TotalMinutes:0.0} min on {Environment.ProcessorCount} cores.");
await report.WriteAsync(settings.OutputDirectory, settings.Describe("Each run is judged with compareToStable on."), cts.Token);
