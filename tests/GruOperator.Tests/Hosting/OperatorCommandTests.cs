using ControllerRuntime.Leadership;
using GruOperator.Hosting;
using Microsoft.Extensions.Configuration;

namespace GruOperator.Tests.Hosting;

/// <summary>The command line and settings table, without starting anything.</summary>
public sealed class OperatorCommandTests
{
    public static TheoryData<string, string[], string, string> AcceptedFlags => new()
    {
        { "space-separated value", ["--workers", "8"], "Workers", "8" },
        { "equals sign", ["--workers=8"], "Workers", "8" },
        { "nested key", ["--lease-namespace", "ops"], "LeaderElection:LeaseNamespace", "ops" },
        { "boolean with value", ["--leader-elect", "false"], "LeaderElection:Enabled", "false" },
        { "boolean with equals", ["--leader-elect=false"], "LeaderElection:Enabled", "false" },
        { "bare boolean means true", ["--leader-elect", "--workers", "2"], "LeaderElection:Enabled", "true" },
        { "flag named for its option", ["--server-image", "example.com/gru-server:9"], "DefaultServerImage", "example.com/gru-server:9" },
        { "field manager", ["--field-manager", "my-operator"], "FieldManager", "my-operator" },
    };

    [Theory]
    [MemberData(nameof(AcceptedFlags))]
    public void FlagsSetTheirConfigurationKey(string scenario, string[] args, string key, string value)
    {
        var flags = OperatorCommand.ParseFlags(args);
        Assert.True(flags.TryGetValue(key, out var actual), scenario);
        Assert.Equal(value, actual);
    }

    [Fact]
    public void OnlyFlagsGivenAreReturned()
    {
        var flags = OperatorCommand.ParseFlags(["--workers", "3"]);
        Assert.Equal(["Workers"], flags.Keys);
    }

    public static TheoryData<string, string[], string> RefusedCommandLines => new()
    {
        { "misspelled flag", ["--wrokers", "8"], "unknown flag '--wrokers' (did you mean --workers?)" },
        { "misspelled with equals", ["--metrcs-port=9"], "unknown flag '--metrcs-port' (did you mean --metrics-port?)" },
        { "unrelated flag", ["--frobnicate"], "unknown flag '--frobnicate'." },
        { "stray argument", ["extra"], "unexpected argument 'extra'" },
        { "missing value", ["--workers"], "--workers" },
    };

    [Theory]
    [MemberData(nameof(RefusedCommandLines))]
    public void UnknownFlagsAndMissingValuesAreRefused(string scenario, string[] args, string message)
    {
        var error = Assert.Throws<OperatorConfigurationException>(() => OperatorCommand.ParseFlags(args));
        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{scenario}: {error.Message}");
    }

    public static TheoryData<string, string, TimeSpan> DurationTexts => new()
    {
        // The product's one grammar, as the CRD and GruServer take it, and hh:mm:ss still taken from older configurations.
        { "90s", "90s", TimeSpan.FromSeconds(90) },
        { "compound", "1h30m", TimeSpan.FromMinutes(90) },
        { "fraction", "1.5m", TimeSpan.FromSeconds(90) },
        { "milliseconds", "250ms", TimeSpan.FromMilliseconds(250) },
        { "legacy hh:mm:ss", "00:01:30", TimeSpan.FromSeconds(90) },
    };

    [Theory]
    [MemberData(nameof(DurationTexts))]
    public void DurationSettingsTakeTheProductsDurationGrammarAndBindToTheOptions(string scenario, string text, TimeSpan expected)
    {
        var given = new ConfigurationBuilder().AddInMemoryCollection([new("ResyncPeriod", text), new("LeaderElection:LeaseDuration", text)]).Build();
        Assert.True(OperatorSettings.Validate(given).Count == 0, scenario);

        var bound = new ConfigurationBuilder().AddConfiguration(given).AddInMemoryCollection(OperatorSettings.DurationsForBinding(given)).Build();

        Assert.Equal(expected, bound.Get<OperatorOptions>()!.ResyncPeriod);
        Assert.Equal(expected, bound.GetSection("LeaderElection").Get<LeaderElectionOptions>()!.LeaseDuration);
    }

    [Fact]
    public void DurationDefaultsAreWrittenInTheProductsGrammar()
    {
        var defaults = OperatorSettings.Defaults.ToDictionary(d => d.Key, d => d.Value);
        Assert.Equal(("10m", "15s", "10s", "2s"),
            (defaults["ResyncPeriod"], defaults["LeaderElection:LeaseDuration"], defaults["LeaderElection:RenewDeadline"], defaults["LeaderElection:RetryPeriod"]));
    }

    public static TheoryData<string, string, string, string> RefusedValues => new()
    {
        { "workers below range", "Workers", "0", "--workers (GRU_OPERATOR_WORKERS): '0' must be a whole number from 1 to 256." },
        { "workers not a number", "Workers", "many", "--workers (GRU_OPERATOR_WORKERS): 'many'" },
        { "port above range", "MetricsPort", "70000", "--metrics-port (GRU_OPERATOR_METRICSPORT): '70000'" },
        { "boolean", "LeaderElection:Enabled", "yes", "--leader-elect (GRU_OPERATOR_LEADERELECTION__ENABLED): 'yes' must be true or false." },
        { "duration", "ResyncPeriod", "10 minutes", "--resync-period (GRU_OPERATOR_RESYNCPERIOD): '10 minutes' must be a positive duration such as 500ms, 30s, 5m or 1h30m" },
        { "bare number", "ResyncPeriod", "600", "--resync-period (GRU_OPERATOR_RESYNCPERIOD): '600' must be a positive duration" },
        { "negative duration", "LeaderElection:LeaseDuration", "-00:00:05", "--lease-duration (GRU_OPERATOR_LEADERELECTION__LEASEDURATION)" },
        { "url", "DefaultPrometheusAddress", "prometheus:9090", "--prometheus-address (GRU_OPERATOR_DEFAULTPROMETHEUSADDRESS): 'prometheus:9090' must be an http(s) URL" },
        { "empty required text", "FieldManager", " ", "--field-manager (GRU_OPERATOR_FIELDMANAGER) must not be empty" },
        { "configuration-only duration", "LeaderElection:RenewDeadline", "soon", "GRU_OPERATOR_LEADERELECTION__RENEWDEADLINE: 'soon'" },
    };

    [Theory]
    [MemberData(nameof(RefusedValues))]
    public void BadValuesNameTheFlagAndItsVariable(string scenario, string key, string value, string message)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(key, value)]).Build();
        var errors = OperatorSettings.Validate(configuration);
        var error = Assert.Single(errors);
        Assert.True(error.Contains(message, StringComparison.Ordinal), $"{scenario}: {error}");
    }

    [Fact]
    public void DefaultsAreValidAndCoverEveryTypedSetting()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(OperatorSettings.Defaults).Build();
        Assert.Empty(OperatorSettings.Validate(configuration));
        Assert.Equal("gru-operator-leader", configuration["LeaderElection:LeaseName"]);
        Assert.All(OperatorSettings.All.Where(s => s.Kind != SettingKind.Text), s => Assert.NotNull(s.Default));
    }

    [Fact]
    public void EveryFlagHasItsOwnVariable()
    {
        Assert.Equal(OperatorSettings.All.Count, OperatorSettings.All.Select(s => s.Flag).Distinct().Count());
        Assert.Equal(OperatorSettings.All.Count, OperatorSettings.All.Select(s => s.EnvironmentVariable).Distinct().Count());
        Assert.All(OperatorSettings.All, s => Assert.StartsWith("GRU_OPERATOR_", s.EnvironmentVariable, StringComparison.Ordinal));
    }
}
