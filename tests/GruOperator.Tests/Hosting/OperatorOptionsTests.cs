using ControllerRuntime.Leadership;
using GruOperator.Hosting;
using k8s;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GruOperator.Tests.Hosting;

public sealed class OperatorOptionsTests
{
    [Fact]
    public async Task FlagsBindToOptions()
    {
        await using var app = OperatorHost.Build(
        [
            "--namespaces", "ml, default", "--workers", "8", "--server-image", "example.com/gru-server:9",
            "--prometheus-address", "http://prom.local:9090", "--metrics-port", "0", "--health-port", "0",
            "--leader-elect=false", "--lease-namespace", "ops",
        ]);
        var options = app.Services.GetRequiredService<IOptions<OperatorOptions>>().Value;
        var election = app.Services.GetRequiredService<IOptions<LeaderElectionOptions>>().Value;

        Assert.Equal(["ml", "default"], options.WatchedNamespaces());
        Assert.Equal(8, options.Workers);
        Assert.Equal("example.com/gru-server:9", options.DefaultServerImage);
        Assert.Equal("http://prom.local:9090", options.DefaultPrometheusAddress);
        Assert.False(election.Enabled);
        Assert.Equal("ops", election.LeaseNamespace);
    }

    [Fact]
    public async Task TheDefaultImagesAreThoseOfThisBuild()
    {
        // Built normally (no GruImageRegistry/GruImageTag given), the defaults are the public images at the project's
        // version; make images REGISTRY=X TAG=T builds the operator image with X/gru-server:T and X/gru-model:T instead.
        var version = typeof(BuiltImages).Assembly.GetName().Version!.ToString(3);
        await using var app = OperatorHost.Build(["--metrics-port", "0", "--health-port", "0"]);
        var options = app.Services.GetRequiredService<IOptions<OperatorOptions>>().Value;

        Assert.Equal($"ghcr.io/gru-operator/gru-server:{version}", options.DefaultServerImage);
        Assert.Equal($"ghcr.io/gru-operator/gru-model:{version}", options.ModelFetcherImage);
        Assert.Equal((BuiltImages.Server, BuiltImages.ModelFetcher), (options.DefaultServerImage, options.ModelFetcherImage));
    }

    [Fact]
    public async Task NoNamespacesMeansAllNamespaces()
    {
        await using var app = OperatorHost.Build(["--metrics-port", "0", "--health-port", "0"]);
        var options = app.Services.GetRequiredService<IOptions<OperatorOptions>>().Value;
        Assert.Equal([null], options.WatchedNamespaces());
    }

    [Fact]
    public void InvalidOptionsAreRefusedNamingTheFlagAndVariable()
    {
        var error = Assert.Throws<OperatorConfigurationException>(() => OperatorHost.Build(
            ["--workers", "0", "--metrics-port", "0", "--health-port", "0", "--leader-elect", "false"],
            new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" }));
        Assert.Contains("--workers (GRU_OPERATOR_WORKERS)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownFlagIsRefusedNotTakenAsConfiguration()
    {
        var error = Assert.Throws<OperatorConfigurationException>(() => OperatorHost.Build(["--wrokers", "8"]));
        Assert.Contains("--wrokers", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LeaseNameComesFromTheHostNotTheRuntime()
    {
        await using var app = OperatorHost.Build(["--metrics-port", "0", "--health-port", "0"]);
        var election = app.Services.GetRequiredService<IOptions<LeaderElectionOptions>>().Value;
        Assert.Equal(OperatorOptions.DefaultLeaseName, election.LeaseName);
        Assert.Equal(OperatorOptions.DefaultLeaseNamespace, election.LeaseNamespace);
        Assert.Equal("", new LeaderElectionOptions().LeaseName);
    }
}
