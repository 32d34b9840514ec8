using System.Reflection;
using System.Text.Json;
using GruServer.Inference;
using GruServer.Telemetry;
using GruServing.Contract.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GruServer.Protocol;

/// <summary>The Open Inference Protocol (v2) over HTTP/JSON: health, server and model metadata, model
/// readiness and infer. Handlers translate between JSON and the protocol-neutral inference types only.</summary>
internal static class V2Endpoints
{
    /// <summary>Open Inference Protocol extensions this server implements, named as in server metadata.</summary>
    internal static readonly string[] Extensions = ["binary_tensor_data"];

    internal static readonly string ServerVersion =
        typeof(V2Endpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private const string RetryAfterSeconds = "1";

    public static IEndpointRouteBuilder MapV2(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/v2/health/live", (HttpContext context) =>
            V2Json.WriteAsync(context, StatusCodes.Status200OK, w => w.WriteBoolean("live", true)));
        endpoints.MapGet("/v2/health/ready", (HttpContext context, ServedModel model) =>
            WriteReadyAsync(context, model, includeName: false));
        endpoints.MapGet("/v2", (HttpContext context) => V2Json.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteString("name", "gru-server");
            w.WriteString("version", ServerVersion);
            w.WriteStartArray("extensions");
            foreach (var extension in Extensions)
            {
                w.WriteStringValue(extension);
            }

            w.WriteEndArray();
        }));

        foreach (var prefix in new[] { "/v2/models/{name}", "/v2/models/{name}/versions/{version}" })
        {
            endpoints.MapGet(prefix, (HttpContext context, string name, string? version, InferenceService service, Hosting.GruServerOptions options) =>
                HandleAsync(context, async () => await WriteMetadataAsync(context, Resolve(service, name, version), options).ConfigureAwait(false)));
            endpoints.MapGet(prefix + "/ready", (HttpContext context, string name, string? version, InferenceService service) =>
                HandleAsync(context, async () => await WriteReadyAsync(context, Resolve(service, name, version), includeName: true).ConfigureAwait(false)));
            endpoints.MapPost(prefix + "/infer", InferAsync);
        }

        return endpoints;
    }

    private static async Task InferAsync(
        HttpContext context, string name, string? version, InferenceService service, GruServerMetrics metrics, Hosting.GruServerOptions options, TimeProvider time)
    {
        // Registered only with --mirror-url.
        var mirror = context.RequestServices.GetService(typeof(Mirroring.CanaryMirror)) as Mirroring.CanaryMirror;
        var started = time.GetTimestamp();
        // A copy a stable server sent (shadow traffic) is counted apart and never copied on again.
        var mirrored = context.Request.Headers[ShadowTraffic.Header] == ShadowTraffic.HeaderValue;
        var source = mirrored ? ShadowTraffic.MirrorSource : ShadowTraffic.LiveSource;
        Mirroring.MirrorCopy? copy = null;
        metrics.RequestStarted();
        var cancellationToken = context.RequestAborted;
        // Which track answered, so a client streaming a sequence can send it back and a track-pinned route keeps
        // the sequence on this model version for its whole life (docs/API.md, "Stateful sequences during a canary").
        context.Response.Headers[GruServing.Contract.Serving.Tracks.Header] = options.Track;
        try
        {
            await HandleAsync(context, async () =>
            {
                Resolve(service, name, version);
                var binary = BinaryOutputs.None;
                var result = await service.InferAsync(name, async (signature, ct) =>
                {
                    // Content type and body are read only once the model is known to exist and be ready.
                    V2RequestReader.CheckContentType(context.Request);
                    using var body = await V2RequestReader.ReadBodyAsync(context.Request, options.MaxRequestBytes, ct).ConfigureAwait(false);
                    var parsed = V2RequestReader.Parse(body.Memory, signature, V2RequestReader.ReadHeaderLength(context.Request, body.Length));
                    binary = parsed.Binary;
                    if (mirror is not null && !mirrored)
                    {
                        copy = mirror.Sample(parsed.Request, body.Memory.Span, context.Request.ContentType, context.Request.Headers[V2RequestReader.HeaderLengthName].FirstOrDefault(),
                            context.Request.Path + context.Request.QueryString, parsed.Request.Id ?? context.TraceIdentifier);
                    }

                    return parsed.Request;
                }, cancellationToken).ConfigureAwait(false);
                if (binary.Any)
                {
                    await V2Json.WriteBinaryInferResultAsync(context, result, binary).ConfigureAwait(false);
                }
                else
                {
                    await V2Json.WriteAsync(context, StatusCodes.Status200OK, w => V2Json.WriteInferResult(w, result)).ConfigureAwait(false);
                }

                // Only now, with the client answered: the copy costs the client nothing but this enqueue.
                if (copy is not null)
                {
                    mirror!.Send(copy, result.Outputs);
                }
            }, metrics).ConfigureAwait(false);
            metrics.RecordRequest(context.Response.StatusCode, time.GetElapsedTime(started), source);
        }
        catch
        {
            // Unexpected failures reach the exception handler, which answers 500; count them as such.
            metrics.RecordRequest(StatusCodes.Status500InternalServerError, time.GetElapsedTime(started), source);
            throw;
        }
    }

    private static ServedModel Resolve(InferenceService service, string name, string? version)
    {
        var model = service.Find(name);
        if (version is not null && version != model.Revision)
        {
            throw new InferenceException(InferenceErrorKind.ModelNotFound, $"model '{name}' version '{version}' is not served here; the served version is '{model.Revision}'.");
        }

        return model;
    }

    private static Task WriteReadyAsync(HttpContext context, ServedModel model, bool includeName)
    {
        var ready = model.IsReady;
        var state = model.State;
        // The protocol answers health with 200 for true and a 4xx for false.
        return V2Json.WriteAsync(context, ready ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest, w =>
        {
            if (includeName)
            {
                w.WriteString("name", model.Name);
            }

            w.WriteBoolean("ready", ready);
            if (!ready)
            {
                w.WriteString("message", state.Status == ModelStatus.Ready ? "server is shutting down" : state.Message);
            }
        });
    }

    private static Task WriteMetadataAsync(HttpContext context, ServedModel model, Hosting.GruServerOptions options)
    {
        var state = model.State;
        if (state.Backend is not { } backend || state.Status != ModelStatus.Ready)
        {
            throw new InferenceException(InferenceErrorKind.ModelNotReady, $"model '{model.Name}' is not ready: {state.Message}.");
        }

        return V2Json.WriteAsync(context, StatusCodes.Status200OK, w =>
        {
            w.WriteString("name", model.Name);
            w.WriteStartArray("versions");
            w.WriteStringValue(model.Revision);
            w.WriteEndArray();
            w.WriteString("platform", "onnxruntime_onnx");
            V2Json.WriteTensorSpecs(w, "inputs", backend.Signature.Inputs);
            V2Json.WriteTensorSpecs(w, "outputs", backend.Signature.Outputs);
            w.WriteStartObject("parameters");
            w.WriteString("digest", "sha256:" + state.Digest);
            w.WriteString("execution_provider", backend.ExecutionProvider);
            w.WriteString("revision", model.Revision);
            w.WriteString("track", model.Track);
            if (backend.Signature.SequenceLengths is { } lengths)
            {
                w.WriteString("sequence_lengths_input", lengths);
            }

            w.WriteBoolean("batchable", Batching.BatchLayout.For(backend.Signature).CanBatch);
            w.WriteBoolean("pads_time", Batching.BatchLayout.For(backend.Signature).PadsTime);
            w.WriteString("sessions_mode", options.Sessions.Mode.ToString());
            if (backend.Signature.State is { CanCarryState: true } carried)
            {
                // The inputs a Stateful server feeds itself from each sequence's state: clients leave them out.
                w.WriteString("sequence_state_inputs", string.Join(',', carried.Pairs.Select(p => p.Input)));
            }
            w.WriteEndObject();
        });
    }

    /// <summary>Runs a handler and maps its <see cref="InferenceException"/> to status and body — the one
    /// place where errors become HTTP.</summary>
    private static async Task HandleAsync(HttpContext context, Func<Task> handler, GruServerMetrics? metrics = null)
    {
        try
        {
            await handler().ConfigureAwait(false);
        }
        catch (InferenceException e)
        {
            if (e.Reason is { } reason)
            {
                metrics?.RecordSchemaError(reason);
            }

            if (context.RequestAborted.IsCancellationRequested)
            {
                // The client hung up (e.g. mid-body): nobody to answer. 499 in the metrics, as nginx logs it.
                context.Response.StatusCode = 499;
                return;
            }

            if (e.Kind == InferenceErrorKind.Overloaded)
            {
                // A full queue clears within a few batches: tell clients to come back in a second, not to fail over.
                context.Response.Headers.RetryAfter = RetryAfterSeconds;
            }
            else if (e.Kind == InferenceErrorKind.Draining)
            {
                // Shutting down: the retry must open a new connection, which the Service sends to a ready replica.
                context.Response.Headers.RetryAfter = RetryAfterSeconds;
                context.Response.Headers.Connection = "close";
            }

            await V2Json.WriteErrorAsync(context, StatusCodeFor(e.Kind), e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            context.Response.StatusCode = 499;
        }
    }

    internal static int StatusCodeFor(InferenceErrorKind kind) => kind switch
    {
        InferenceErrorKind.InvalidInput => StatusCodes.Status400BadRequest,
        InferenceErrorKind.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        InferenceErrorKind.ModelNotFound => StatusCodes.Status404NotFound,
        InferenceErrorKind.ModelNotReady or InferenceErrorKind.Overloaded or InferenceErrorKind.Draining => StatusCodes.Status503ServiceUnavailable,
        InferenceErrorKind.SessionsFull => StatusCodes.Status429TooManyRequests,
        _ => StatusCodes.Status500InternalServerError,
    };
}
