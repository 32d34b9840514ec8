using System.Net;
using GruServer.Batching;
using GruServer.Faults;
using GruServer.Inference;
using GruServer.Protocol;
using GruServer.Protocol.Grpc;
using GruServer.Registry;
using GruRegistry.Distribution;
using GruServer.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using GruServing.Contract.Serving;
using OpenTelemetry.Resources;

namespace GruServer.Hosting;

/// <summary>Builds and runs the web host: Kestrel on --host:--port and, for Prometheus, on --host:--metrics-port,
/// the model loader, and graceful shutdown on SIGTERM.</summary>
internal static partial class GruServerHost
{
    private const string MetricsPath = "/metrics";

    public static WebApplication Build(GruServerOptions options, ServerExit exit)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // The registry client's per-request lines would drown the fetcher's own one-line outcome (pulled, cached, retrying).
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        // A failed start is logged once, by RunAsync, in one line that names the flag to fix.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // One Kestrel, two ports: inference on --port, /metrics on --metrics-port (see MapMetricsPort).
            foreach (var port in new[] { options.Port, options.MetricsPort })
            {
                if (options.Host == "localhost")
                {
                    kestrel.ListenLocalhost(port);
                }
                else
                {
                    kestrel.Listen(IPAddress.Parse(options.Host), port);
                }
            }

            if (options.GrpcPort > 0)
            {
                // gRPC needs HTTP/2; without TLS a client must speak it from the first byte (h2c prior knowledge).
                void Http2(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions listen) => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2;
                if (options.Host == "localhost")
                {
                    kestrel.ListenLocalhost(options.GrpcPort, Http2);
                }
                else
                {
                    kestrel.Listen(IPAddress.Parse(options.Host), options.GrpcPort, Http2);
                }
            }

            // The infer handler enforces --max-request-bytes itself, with a protocol error body.
            kestrel.Limits.MaxRequestBodySize = null;
            // A bound on sockets as well as on bodies (RequestBodyAdmission): each connection costs buffers and a slot.
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = options.MaxConnections;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(exit);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(_ => new ServedModel(options.ModelName, options.Revision, options.Track));
        builder.Services.AddSingleton(sp => new FaultInjection(options, sp.GetRequiredService<TimeProvider>(), new Random()));
        builder.Services.AddSingleton<GruServerMetrics>();
        // Not a hosted service: it must keep running batches while the host drains in-flight requests on SIGTERM,
        // and stops only when the container is disposed, after the listener has closed.
        builder.Services.AddSingleton<DynamicBatcher>();
        builder.Services.AddSingleton(sp => new Sequences.SequenceStore(options.Sessions, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<Sequences.SequenceSteps>();
        builder.Services.AddSingleton<InferenceService>();
        if (options.Mirror is { } mirror)
        {
            builder.Services.AddSingleton(mirror);
            builder.Services.AddSingleton<Mirroring.MirrorMetrics>();
            builder.Services.AddSingleton(sp => new Mirroring.CanaryMirror(mirror, sp.GetRequiredService<Mirroring.MirrorMetrics>(),
                sp.GetRequiredService<TimeProvider>(), Random.Shared, sp.GetRequiredService<ILogger<Mirroring.CanaryMirror>>()));
        }
        builder.Services.AddGrpc(grpc => grpc.MaxReceiveMessageSize = (int)Math.Min(options.MaxRequestBytes, int.MaxValue));
        if (options.OciSource is { } oci)
        {
            builder.Services.AddRegistryClient(o =>
            {
                o.CaCertificateFile = oci.CaCertificateFile;
                foreach (var host in oci.PlainHttpRegistries)
                {
                    o.PlainHttpRegistries.Add(host);
                }
            });
            builder.Services.AddSingleton(oci);
            builder.Services.AddSingleton<OciModelFetcher>();
        }

        builder.Services.AddHostedService<ModelLoader>();
        builder.Services.AddSingleton<IHostLifetime, SignalLifetime>();

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("gru-server"))
            .WithMetrics(metrics => metrics
            .AddMeter(GruServerMetrics.MeterName)
            .AddPrometheusExporter(prometheus =>
            {
                prometheus.ScrapeEndpointPath = MetricsPath;
                // Keep series to the labels the contract names (model, revision, track, ...).
                prometheus.ScopeInfoEnabled = false;
                // Every scrape sees the latest counts (the default caches 300 ms); Prometheus scrapes seconds apart anyway.
                prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
            }));

        var app = builder.Build();
        MapMetricsPort(app, options.MetricsPort);
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = context => V2Json.WriteErrorAsync(context, StatusCodes.Status500InternalServerError,
                "internal error while handling the request; the server log has the details."),
        });
        app.UseStatusCodePages(context => context.HttpContext.Response.HasStarted
            ? Task.CompletedTask
            : V2Json.WriteErrorAsync(context.HttpContext, context.HttpContext.Response.StatusCode,
                $"{context.HttpContext.Request.Method} {context.HttpContext.Request.Path} is not an endpoint of this server (HTTP {context.HttpContext.Response.StatusCode}); see the Open Inference Protocol v2 routes under /v2."));
        app.UseMiddleware<RequestBodyAdmission>();
        app.MapV2();
        if (options.GrpcPort > 0)
        {
            // Only on its own port: the HTTP/1.1 inference port stays the JSON/binary protocol.
            app.MapGrpcService<GrpcInferenceEndpoint>().RequireHost($"*:{options.GrpcPort}");
        }
        return app;
    }

    /// <summary>The metrics port serves /metrics and nothing else, and the inference port never serves /metrics: a
    /// scrape config or NetworkPolicy that names one port reaches exactly one job. Branching on the local port (not
    /// the Host header, which in a cluster names a Service) keeps the two apart on one Kestrel.</summary>
    private static void MapMetricsPort(WebApplication app, int metricsPort) =>
        app.MapWhen(context => context.Connection.LocalPort == metricsPort, metrics =>
        {
            metrics.UseOpenTelemetryPrometheusScrapingEndpoint(
                meterProvider: null, predicate: context => context.Request.Path == MetricsPath, path: null, configureBranchedPipeline: null, optionsName: null);
            metrics.Run(context => V2Json.WriteErrorAsync(context, StatusCodes.Status404NotFound,
                $"{context.Request.Path} is not served on the metrics port ({ServerFlags.MetricsPort}); scrape {MetricsPath}."));
        });

    public static async Task<int> RunAsync(GruServerOptions options, CancellationToken cancellationToken)
    {
        var exit = new ServerExit();
        await using var app = Build(options, exit);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("GruServer");
        var model = app.Services.GetRequiredService<ServedModel>();
        // The meter provider must be listening before the metrics pre-create their zero series, or
        // those first measurements are dropped.
        app.Services.GetRequiredService<MeterProvider>();

        if (options.Mirror is not null)
        {
            // Created before the first request so its zero series and its log line are there from the start.
            app.Services.GetRequiredService<Mirroring.CanaryMirror>();
        }

        app.Services.GetRequiredService<GruServerMetrics>().ObserveSessions(app.Services.GetRequiredService<Sequences.SequenceStore>());
        var faults = app.Services.GetRequiredService<FaultInjection>();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            model.MarkStopping();
            Log.Stopping(logger);
        });

        Log.Starting(logger, options.ModelName, options.ModelPath, options.Revision, options.Track, options.Host, options.Port, options.MetricsPort,
            options.GrpcPort > 0 ? options.GrpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture) : "off", options.ExecutionProvider);
        if (faults.LatencyActive || faults.ErrorsActive)
        {
            Log.FaultInjection(logger, faults.Latency.TotalMilliseconds, faults.ErrorRate);
        }

        try
        {
            await app.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // Typically a port is taken: say which one instead of a stack trace. Kestrel names the address it failed
            // to bind in the message, and nothing else tells the two listeners apart.
            var (port, flag) = e.Message.Contains($":{options.MetricsPort}", StringComparison.Ordinal) ? (options.MetricsPort, ServerFlags.MetricsPort)
                : options.GrpcPort > 0 && e.Message.Contains($":{options.GrpcPort}", StringComparison.Ordinal) ? (options.GrpcPort, ServerFlags.GrpcPort)
                : (options.Port, ServerFlags.Port);
            Log.CannotListen(logger, options.Host, port, $"{e.Message} ({flag})");
            return 1;
        }

        model.Dispose();
        return exit.Code;
    }

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Information, "Starting GruServer: model {Model} from {Path}, revision {Revision}, track {Track}; inference on {Host}:{Port}, metrics on :{MetricsPort}/metrics, gRPC on :{GrpcPort}; execution provider {ExecutionProvider}")]
        public static partial void Starting(ILogger logger, string model, string path, string revision, string track, string host, int port, int metricsPort, string grpcPort, GruServing.Contract.Serving.ExecutionProvider executionProvider);

        [LoggerMessage(101, LogLevel.Warning, "FAULT INJECTION ACTIVE: latency {LatencyMs} ms per infer request, error rate {ErrorRate}; for tests and game days only")]
        public static partial void FaultInjection(ILogger logger, double latencyMs, double errorRate);

        [LoggerMessage(102, LogLevel.Information, "Shutdown requested: readiness is now false; finishing in-flight requests")]
        public static partial void Stopping(ILogger logger);

        [LoggerMessage(103, LogLevel.Critical, "Cannot listen on {Host}:{Port}: {Reason}")]
        public static partial void CannotListen(ILogger logger, string host, int port, string reason);
    }
}
