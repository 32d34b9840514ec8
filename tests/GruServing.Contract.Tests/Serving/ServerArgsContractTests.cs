using System.CommandLine;
using System.Globalization;
using GruOperator.Api;
using GruOperator.ModelResolution;
using GruOperator.Reconciliation;
using GruOperator.Serving;
using GruServer.Hosting;
using GruServing.Contract.Durations;
using GruServing.Contract.Serving;
using k8s;
using k8s.Models;
using TestSupport;

namespace GruServing.Contract.Tests.Serving;

/// <summary>
/// The args the operator writes into the serving Deployment, fed to GruServer's own command line: every one parses
/// without error and every value arrives unchanged. A renamed flag, a grammar the server does not read, or a CRD
/// bound the server refuses fails here instead of in a crash-looping pod.
/// </summary>
public sealed class ServerArgsContractTests
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static readonly ServingDefaults Defaults = new("gru-server:test", "gru-model:test", "gru-operator") { PlainHttpRegistries = ["127.0.0.1:5000"] };

    public static TheoryData<string> Samples => new(
        Directory.GetFiles(Path.Combine(Repository.Root, "config", "samples"), "*.yaml").Select(Path.GetFileName)!);

    public static TheoryData<string, Action<GruModelSpec>, string, string> Specs => new()
    {
        { "defaults", _ => { }, "1", Tracks.StableLabel },
        { "canary track, large revision", _ => { }, "123456", Tracks.CanaryLabel },
        { "CPU", s => s.Serving.ExecutionProvider = ExecutionProvider.CPU, "2", Tracks.StableLabel },
        { "CUDA with a GPU", s => { s.Serving.ExecutionProvider = ExecutionProvider.CUDA; s.Serving.Gpu = new GpuSpec { Count = 1 }; }, "2", Tracks.CanaryLabel },
        { "digest with prefix", s => s.Model.Sha256 = "sha256:" + Hex, "3", Tracks.StableLabel },
        { "https source", s => s.Model.Source = "https://models.example/m.onnx", "4", Tracks.StableLabel },
        { "oci pinned by digest", s => { s.Model.Source = "oci://reg:5000/models/m@sha256:" + Hex; s.Model.Sha256 = null; }, "5", Tracks.StableLabel },
        { "oci tag with its digest in spec.model.sha256", s => { s.Model.Source = "oci://reg:5000/models/m:1.0"; s.Model.Sha256 = Hex; }, "6", Tracks.StableLabel },
        { "oci on a plain-http registry", s => { s.Model.Source = "oci://127.0.0.1:5000/models/m@sha256:" + Hex; s.Model.Sha256 = null; }, "6", Tracks.CanaryLabel },
        { "limits at the CRD minimum", s => { s.Serving.MaxSequenceLength = Minimum("serving.maxSequenceLength"); s.Serving.MaxRequestBatchSize = Minimum("serving.maxRequestBatchSize"); }, "7", Tracks.StableLabel },
        { "limits at the CRD maximum", s => { s.Serving.MaxSequenceLength = Maximum("serving.maxSequenceLength"); s.Serving.MaxRequestBatchSize = Maximum("serving.maxRequestBatchSize"); }, "8", Tracks.StableLabel },
        { "batching at the CRD minimum, no wait", s => s.Serving.Batching = new BatchingSpec { MaxBatchSize = Minimum("serving.batching.maxBatchSize"), MaxQueueDelay = "0ms" }, "11", Tracks.StableLabel },
        { "batching at the CRD maximum, longest wait", s => s.Serving.Batching = new BatchingSpec { MaxBatchSize = Maximum("serving.batching.maxBatchSize"), MaxQueueDelay = GoDuration.Format(ServingLimits.MaxQueueDelayUpperBound) }, "12", Tracks.CanaryLabel },
        { "batching with a compound delay", s => s.Serving.Batching = new BatchingSpec { MaxBatchSize = 7, MaxQueueDelay = "1s500ms" }, "13", Tracks.StableLabel },
        { "stateful sessions", s => s.Serving.Sessions = new SessionsSpec { Mode = SessionMode.Stateful, IdleTimeout = "1h30m", MaxSessions = 250 }, "14", Tracks.StableLabel },
        { "stateful sessions at the CRD maximum", s => s.Serving.Sessions = new SessionsSpec { Mode = SessionMode.Stateful, IdleTimeout = "168h", MaxSessions = Maximum("serving.sessions.maxSessions") }, "15", Tracks.CanaryLabel },
        { "gRPC", s => s.Serving.Grpc = new GrpcSpec { Enabled = true }, "16", Tracks.StableLabel },
        { "longest model name", s => s.Model.Name = "m" + new string('x', 62), "9", Tracks.StableLabel },
        { "model name with dots and dashes", s => s.Model.Name = "recs_v2.1-final", "10", Tracks.StableLabel },
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task EverySampleParsesOnTheServerWithItsValuesUnchanged(string file)
    {
        var model = KubernetesYaml.Deserialize<GruModel>(SampleManifests.DocumentOfKind(Path.Combine(Repository.Root, "config", "samples", file), GruModel.KindName));

        foreach (var track in new[] { Tracks.StableLabel, Tracks.CanaryLabel })
        {
            await AssertArgsArriveUnchangedAsync(model, "1", track);
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public async Task EverySpecParsesOnTheServerWithItsValuesUnchanged(string scenario, Action<GruModelSpec> change, string revision, string track)
    {
        var model = Model();
        change(model.Spec);

        await AssertArgsArriveUnchangedAsync(model, revision, track, scenario);
    }

    [Fact]
    public async Task OperatorAndServerDefaultsAgree()
    {
        // A GruModel that leaves the limits out gets what a GruServer started by hand gets.
        var fromOperator = await ParseOnServerAsync(Args(Model(), "1", Tracks.StableLabel).Args);
        var byHand = await ParseOnServerAsync([ServerFlags.Model, "/m.onnx"]);

        Assert.Equal(byHand.MaxSequenceLength, fromOperator.MaxSequenceLength);
        Assert.Equal(byHand.MaxRequestBatchSize, fromOperator.MaxRequestBatchSize);
        Assert.Equal(byHand.ExecutionProvider, fromOperator.ExecutionProvider);
        Assert.Equal(byHand.MaxBatchSize, fromOperator.MaxBatchSize);
        Assert.Equal(byHand.MaxQueueDelay, fromOperator.MaxQueueDelay);
        Assert.Equal(byHand.Track, fromOperator.Track);
        Assert.Equal(byHand.Sessions, fromOperator.Sessions);
        Assert.True(GoDuration.TryParse(CrdSchema.At("serving.sessions.idleTimeout").DefaultProperty?.ToString(), out var crdIdle, out _));
        Assert.Equal(crdIdle, byHand.Sessions.IdleTimeout);
        Assert.Equal(Convert.ToInt32(CrdSchema.At("serving.sessions.maxSessions").DefaultProperty, CultureInfo.InvariantCulture), byHand.Sessions.MaxSessions);
        Assert.Equal(Convert.ToInt32(CrdSchema.At("serving.maxSequenceLength").DefaultProperty, CultureInfo.InvariantCulture), byHand.MaxSequenceLength);
        Assert.Equal(Convert.ToInt32(CrdSchema.At("serving.maxRequestBatchSize").DefaultProperty, CultureInfo.InvariantCulture), byHand.MaxRequestBatchSize);
        Assert.Equal(Convert.ToInt32(CrdSchema.At("serving.batching.maxBatchSize").DefaultProperty, CultureInfo.InvariantCulture), byHand.MaxBatchSize);
        Assert.True(GoDuration.TryParse(CrdSchema.At("serving.batching.maxQueueDelay").DefaultProperty?.ToString(), out var crdDelay, out _));
        Assert.Equal(crdDelay, byHand.MaxQueueDelay);
        Assert.Equal(CrdSchema.At("serving.executionProvider").DefaultProperty!.ToString(), byHand.ExecutionProvider.ToString());
    }

    [Fact]
    public void EveryExecutionProviderTheCrdOffersIsOneTheServerReads()
    {
        var offered = CrdSchema.At("serving.executionProvider").EnumProperty.Select(v => v.ToString()!).ToList();

        Assert.Equal(Enum.GetNames<ExecutionProvider>(), offered);
        Assert.All(offered, name => Assert.True(ExecutionProviders.TryParse(name, out _), name));
    }

    private static async Task AssertArgsArriveUnchangedAsync(GruModel model, string revision, string track, string scenario = "")
    {
        var (args, source) = Args(model, revision, track);
        var options = await ParseOnServerAsync(args);
        var serving = model.Spec.Serving ?? new ServingSpec();

        Assert.Equal(model.Spec.Model.Name, options.ModelName);
        if (source.Kind == GruOperator.Domain.Rollout.ModelSourceKind.Oci)
        {
            // GruServer pulls the pinned reference itself; the manifest digest pins the layer, so no --model-sha256.
            Assert.Equal(source.Uri, options.ModelPath);
            Assert.Equal(source.Uri, options.OciSource!.Reference.ToString());
            Assert.Equal(ServingWorkloadBuilder.ModelCacheDirectory, options.OciSource.CacheDirectory);
            Assert.Equal(source.Location.StartsWith("127.0.0.1:5000/", StringComparison.Ordinal) ? ["127.0.0.1:5000"] : [], options.OciSource.PlainHttpRegistries);
            Assert.Null(options.ExpectedDigest);
        }
        else
        {
            Assert.Equal(source.Kind == GruOperator.Domain.Rollout.ModelSourceKind.File ? source.Location : ServingWorkloadBuilder.FetchedModelPath, options.ModelPath);
            Assert.Equal(source.Sha256Hex, options.ExpectedDigest?.Hex);
            Assert.Equal(source.Digest, options.ExpectedDigest?.ToString());
        }
        Assert.Equal(revision, options.Revision);
        Assert.Equal(track, options.Track);
        Assert.Equal(serving.ExecutionProvider, options.ExecutionProvider);
        Assert.Equal(serving.MaxSequenceLength, options.MaxSequenceLength);
        Assert.Equal(serving.MaxRequestBatchSize, options.MaxRequestBatchSize);
        var batching = serving.Batching ?? new BatchingSpec();
        Assert.Equal(batching.MaxBatchSize, options.MaxBatchSize);
        Assert.True(GoDuration.TryParse(batching.MaxQueueDelay, out var delay, out _), batching.MaxQueueDelay);
        Assert.Equal(delay, options.MaxQueueDelay);
        Assert.Equal(ServingWorkloadBuilder.HttpPort, options.Port);
        Assert.Equal(ServingWorkloadBuilder.MetricsPort, options.MetricsPort);
        Assert.Equal(serving.Grpc?.Enabled == true ? ServingWorkloadBuilder.GrpcPort : 0, options.GrpcPort);
        var sessions = serving.Sessions ?? new SessionsSpec();
        Assert.Equal(sessions.Mode, options.Sessions.Mode);
        if (sessions.Mode == SessionMode.Stateful)
        {
            Assert.True(GoDuration.TryParse(sessions.IdleTimeout, out var idle, out _), sessions.IdleTimeout);
            Assert.Equal(idle, options.Sessions.IdleTimeout);
            Assert.Equal(sessions.MaxSessions, options.Sessions.MaxSessions);
        }
        Assert.Equal(ServingWorkloadBuilder.ShutdownDelay, options.ShutdownDelay);
        Assert.Equal(ServingWorkloadBuilder.ShutdownTimeout, options.ShutdownTimeout);
        Assert.True(GoDuration.TryParse((model.Spec.Slo ?? new()).LatencyP95, out var latencySlo, out _));
        Assert.Equal([latencySlo], options.LatencySloBoundaries); // the SLO threshold becomes an exact histogram bound
        Assert.True(options.ModelName.Length > 0, scenario);
    }

    private static (IReadOnlyList<string> Args, GruOperator.Domain.Rollout.ModelSource Source) Args(GruModel model, string revision, string track)
    {
        var (valid, problems) = SpecValidator.Validate(model.Spec, Defaults.ServerImage);
        Assert.True(valid is not null, $"{model.Metadata.Name}: {string.Join("; ", problems)}");
        // oci:// sources reach the builder pinned (the reconciler's ModelPinner); a digest in the spec pins without a registry.
        var source = ModelPinner.PinByDigest(valid.Source) ?? valid.Source;
        var deployment = ServingWorkloadBuilder.BuildDeployment(model, source, revision, track, Defaults);
        var container = deployment.Spec.Template.Spec.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer);
        Assert.Null(container.Command); // the image's entrypoint is GruServer; the args are all it gets
        return (container.Args.ToList(), source);
    }

    /// <summary>Runs GruServer's real command line over <paramref name="args"/> up to the point where it would start serving.</summary>
    private static async Task<GruServerOptions> ParseOnServerAsync(IReadOnlyList<string> args)
    {
        GruServerOptions? parsed = null;
        using var errors = new StringWriter(CultureInfo.InvariantCulture);
        var command = ServerCommand.Create((options, _) =>
        {
            parsed = options;
            return Task.FromResult(0);
        }, errors);

        var parse = command.Parse(args.ToArray());
        Assert.True(parse.Errors.Count == 0, $"[{string.Join(' ', args)}]: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        var exitCode = await parse.InvokeAsync();

        Assert.True(exitCode == 0 && parsed is not null, $"[{string.Join(' ', args)}] exit {exitCode}: {errors}");
        return parsed;
    }

    private static GruModel Model() => new()
    {
        ApiVersion = GruModel.GroupVersion,
        Kind = GruModel.KindName,
        Metadata = new V1ObjectMeta { Name = "recs", NamespaceProperty = "default", Uid = "uid-1" },
        Spec = new GruModelSpec
        {
            Model = new ModelSpec { Name = "recs", Source = "file:///opt/gru/models/m.onnx", Sha256 = Hex },
        },
    };

    private static int Minimum(string path) => (int)CrdSchema.At(path).Minimum!.Value;

    private static int Maximum(string path) => (int)CrdSchema.At(path).Maximum!.Value;
}
