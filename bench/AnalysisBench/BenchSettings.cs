using GruOperator.Domain.Analysis;
using GruOperator.Providers.Prometheus;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AnalysisBench;

/// <summary>The benchmark's knobs; <c>--quick</c> shrinks the counts for a smoke run.</summary>
internal sealed record BenchSettings(
    string OutputDirectory, int SyntheticPairs, int RealPairs, int RealBatchSize, int BreachTrials, int NoiseRounds, int Seed)
{
    /// <summary>The 5 s analysis interval the issue asks for; failureLimit 2 as in docs/API.md.</summary>
    public static readonly CanaryAnalysisSpec Spec = CanaryAnalysisSpec.Default with { Interval = TimeSpan.FromSeconds(5), FailureLimit = 2 };

    /// <summary>10 s trailing window, 1 s steps of 5 s rates (1 s scrape interval): 11 points per track for the rank test.</summary>
    public static readonly BenchWindow Window = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));

    public static BenchSettings Parse(string[] args)
    {
        var quick = args.Contains("--quick");
        var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault() ?? "bench/results";
        return quick
            ? new BenchSettings(output, SyntheticPairs: 20, RealPairs: 4, RealBatchSize: 4, BreachTrials: 1, NoiseRounds: 4, Seed: 1)
            : new BenchSettings(output, SyntheticPairs: 24, RealPairs: 20, RealBatchSize: 5, BreachTrials: 3, NoiseRounds: 12, Seed: 1);
    }

    public string Describe(string scenarioSlo) =>
        $"Analysis interval {Spec.Interval.TotalSeconds:0} s, window {Window.Length.TotalSeconds:0} s, step {Window.Step.TotalSeconds:0} s, " +
        $"rate window {Window.RateWindow.TotalSeconds:0} s, Prometheus scrape interval 1 s, failureLimit {Spec.FailureLimit}, " +
        $"SLO test alpha {ComparisonPolicy.Default.SloAlpha}, canary-vs-stable alpha {ComparisonPolicy.Default.ComparisonAlpha}, latency tolerance +{ComparisonPolicy.Default.Latency.Relative:P0} / {ComparisonPolicy.Default.Latency.Absolute * 1000:0.#} ms, " +
        $"error-rate tolerance +{ComparisonPolicy.Default.ErrorRate.Relative:P0} / {ComparisonPolicy.Default.ErrorRate.Absolute:0.###}. {scenarioSlo}";

    /// <summary>The provider wired as the operator wires it.</summary>
    public static ServiceProvider Services(Uri prometheus)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Prometheus:Address"] = prometheus.ToString(),
            ["Prometheus:AttemptTimeout"] = "00:00:04",
            ["Prometheus:TotalTimeout"] = "00:00:10",
            ["Prometheus:RetryBaseDelay"] = "00:00:00.100",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        services.AddPrometheusMetricProvider(configuration.GetSection(PrometheusOptions.Section));
        return services.BuildServiceProvider();
    }

    public static AnalysisLoop Loop(IServiceProvider services, string ns, SloSpec slo) =>
        new(new CanaryAnalysis(services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null), ComparisonPolicy.Default),
            ns, slo, Spec, Window);

    /// <summary>Enough scraped history for full windows: window + rate window + a margin.</summary>
    public static TimeSpan WarmUp => Window.Length + Window.RateWindow + TimeSpan.FromSeconds(3);
}
