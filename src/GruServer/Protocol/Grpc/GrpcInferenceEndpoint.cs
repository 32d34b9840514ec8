using Google.Protobuf;
using Grpc.Core;
using GruServer.Hosting;
using GruServer.Inference;
using GruServer.Protocol.Grpc.V2;
using GruServer.Telemetry;

namespace GruServer.Protocol.Grpc;

/// <summary>The Open Inference Protocol's gRPC service (<c>inference.GRPCInferenceService</c>) on --grpc-port. Like the
/// HTTP handlers it only translates: requests become <see cref="InferenceRequest"/>s for the same
/// <see cref="InferenceService"/> (one validator, one batcher), errors become gRPC status codes.</summary>
internal sealed class GrpcInferenceEndpoint(InferenceService service, ServedModel model, GruServerMetrics metrics, TimeProvider time)
    : GRPCInferenceService.GRPCInferenceServiceBase
{
    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = model.IsReady });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Task.FromResult(new ModelReadyResponse { Ready = Translate(() => Resolve(request.Name, request.Version)).IsReady });
    }

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerMetadataResponse { Name = "gru-server", Version = V2Endpoints.ServerVersion, Extensions = { V2Endpoints.Extensions } });

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        var served = Translate(() => Resolve(request.Name, request.Version));
        var state = served.State;
        if (state.Backend is not { } backend || state.Status != ModelStatus.Ready)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"model '{served.Name}' is not ready: {state.Message}."));
        }

        var response = new ModelMetadataResponse { Name = served.Name, Versions = { served.Revision }, Platform = "onnxruntime_onnx" };
        response.Inputs.AddRange(backend.Signature.Inputs.Select(Metadata));
        response.Outputs.AddRange(backend.Signature.Outputs.Select(Metadata));
        return Task.FromResult(response);
    }

    public override Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        // As HTTP's x-gru-track header: which track answered, for a client to pin its sequence there (docs/API.md).
        context.ResponseTrailers.Add(GruServing.Contract.Serving.Tracks.Header, model.Track);
        return InferAsync(request, context.CancellationToken);
    }

    /// <summary>Triton's bidirectional stream: requests are answered as they complete, each with its id, and an error
    /// answers that one request (<c>error_message</c>) without closing the stream. Requests of different sequences run
    /// concurrently, so the batcher steps them together; requests of one sequence run in the order they arrived.</summary>
    public override async Task ModelStreamInfer(
        IAsyncStreamReader<ModelInferRequest> requestStream, IServerStreamWriter<ModelStreamInferResponse> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(requestStream);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        var cancellationToken = context.CancellationToken;
        using var writing = new SemaphoreSlim(1, 1);
        var pending = new List<Task>();
        var lastOfSequence = new Dictionary<string, Task>(StringComparer.Ordinal);
        await foreach (var request in requestStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var sequence = SequenceKey(request);
            var previous = sequence is not null && lastOfSequence.TryGetValue(sequence, out var last) ? last : Task.CompletedTask;
            var answer = AnswerAsync(request, previous, responseStream, writing, cancellationToken);
            if (sequence is not null)
            {
                lastOfSequence[sequence] = answer;
            }

            pending.Add(answer);
            if (pending.Count > 256)
            {
                // A long-lived stream must not hold every answer it ever gave.
                pending.RemoveAll(t => t.IsCompleted);
                foreach (var done in lastOfSequence.Where(e => e.Value.IsCompleted).Select(e => e.Key).ToList())
                {
                    lastOfSequence.Remove(done);
                }
            }
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    private async Task AnswerAsync(
        ModelInferRequest request, Task previous, IServerStreamWriter<ModelStreamInferResponse> stream, SemaphoreSlim writing, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(false); // never faults: every answer is written, error or not
        ModelStreamInferResponse answer;
        try
        {
            answer = new ModelStreamInferResponse { InferResponse = await InferAsync(request, cancellationToken).ConfigureAwait(false) };
        }
        catch (RpcException e)
        {
            answer = new ModelStreamInferResponse
            {
                ErrorMessage = e.Status.Detail,
                InferResponse = new ModelInferResponse { ModelName = request.ModelName, ModelVersion = request.ModelVersion, Id = request.Id },
            };
        }

        try
        {
            await writing.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await stream.WriteAsync(answer, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                writing.Release();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client closed the call: nobody to answer.
        }
    }

    /// <summary>The sequence a stream request belongs to, as text, for ordering; null when it names none.</summary>
    private static string? SequenceKey(ModelInferRequest request) =>
        request.Parameters.TryGetValue(Sequences.SequenceParameters.Id, out var id)
            ? id.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.StringParam => id.StringParam,
                InferParameter.ParameterChoiceOneofCase.Int64Param => id.Int64Param.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => null,
            }
            : null;

    /// <summary>One infer request through the shared service, counted in the request metrics; errors as RpcException.</summary>
    private async Task<ModelInferResponse> InferAsync(ModelInferRequest request, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        metrics.RequestStarted();
        var code = StatusCodes.OK;
        try
        {
            Resolve(request.ModelName, request.ModelVersion);
            var result = await service.InferAsync(request.ModelName, (signature, _) => Task.FromResult(Read(request)), cancellationToken)
                .ConfigureAwait(false);
            return Write(result);
        }
        catch (InferenceException e)
        {
            if (e.Reason is { } reason)
            {
                metrics.RecordSchemaError(reason);
            }

            code = V2Endpoints.StatusCodeFor(e.Kind);
            throw ToRpc(e);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            code = StatusCodes.ClientClosed;
            throw new RpcException(new Status(StatusCode.Cancelled, "the client cancelled the call."));
        }
        catch (Exception e) when (e is not RpcException)
        {
            code = StatusCodes.Internal;
            throw new RpcException(new Status(StatusCode.Internal, "internal error while handling the request; the server log has the details."), e.Message);
        }
        finally
        {
            // Counted with the HTTP status the same outcome gets over HTTP, so one series covers every protocol.
            metrics.RecordRequest(code, time.GetElapsedTime(started));
        }
    }

    /// <summary>Inputs from typed contents or raw_input_contents (one entry per input, in order), never both.</summary>
    private static InferenceRequest Read(ModelInferRequest request)
    {
        var raw = request.RawInputContents;
        if (raw.Count > 0 && raw.Count != request.Inputs.Count)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.InvalidRequest,
                $"raw_input_contents has {raw.Count} entries but the request has {request.Inputs.Count} inputs; send one entry per input, in the order of inputs.");
        }

        var inputs = new List<NamedTensor>(request.Inputs.Count);
        for (var i = 0; i < request.Inputs.Count; i++)
        {
            var input = request.Inputs[i];
            if (string.IsNullOrEmpty(input.Name))
            {
                throw InferenceException.Invalid(SchemaErrorReasons.InvalidRequest, $"inputs[{i}] needs a non-empty name.");
            }

            var datatype = V2RequestReader.ParseDatatype(input.Datatype)
                ?? throw InferenceException.Invalid(SchemaErrorReasons.DatatypeMismatch,
                    $"input '{input.Name}' has datatype '{input.Datatype}', which this server does not accept; supported: FP32, FP64, INT32, INT64.");
            if (input.Shape.Any(d => d < 0))
            {
                throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch,
                    $"input '{input.Name}' has shape [{string.Join(", ", input.Shape)}]; dimensions must be non-negative integers.");
            }

            Array data;
            if (raw.Count > 0)
            {
                if (input.Contents is not null)
                {
                    throw InferenceException.Invalid(SchemaErrorReasons.InvalidRequest,
                        $"input '{input.Name}' has contents while the request uses raw_input_contents; send every input one way.");
                }

                data = RawTensors.Decode(input.Name, datatype, raw[i].Span, "raw_input_contents");
            }
            else
            {
                data = Typed(input.Name, datatype, input.Contents);
            }

            inputs.Add(new NamedTensor(input.Name, datatype, [.. input.Shape], data));
        }

        return new InferenceRequest(string.IsNullOrEmpty(request.Id) ? null : request.Id, inputs,
            request.Outputs.Count == 0 ? null : [.. request.Outputs.Select(o => o.Name)], ReadSequence(request.Parameters));
    }

    /// <summary>The sequence parameters, as Triton's gRPC clients send them (sequence_id as int64_param or
    /// string_param, the flags as bool_param), judged by the same <see cref="Sequences.SequenceParameters.From"/> as HTTP's.</summary>
    private static Sequences.SequenceControl? ReadSequence(Google.Protobuf.Collections.MapField<string, InferParameter> parameters)
    {
        Dictionary<string, object>? sequence = null;
        foreach (var (name, parameter) in parameters)
        {
            if (!Sequences.SequenceParameters.IsSequenceParameter(name))
            {
                continue;
            }

            object value = parameter.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.StringParam => parameter.StringParam,
                InferParameter.ParameterChoiceOneofCase.Int64Param => parameter.Int64Param,
                InferParameter.ParameterChoiceOneofCase.BoolParam => parameter.BoolParam,
                var other => other,
            };
            (sequence ??= new(StringComparer.Ordinal))[name] = value;
        }

        return sequence is null ? null : Sequences.SequenceParameters.From(sequence);
    }

    private static Array Typed(string name, TensorDataType datatype, InferTensorContents? contents) => datatype switch
    {
        _ when contents is null => throw InferenceException.Invalid(SchemaErrorReasons.InvalidRequest,
            $"input '{name}' has no contents; send its elements in contents or raw_input_contents."),
        TensorDataType.FP32 => contents.Fp32Contents.ToArray(),
        TensorDataType.FP64 => contents.Fp64Contents.ToArray(),
        TensorDataType.INT32 => contents.IntContents.ToArray(),
        _ => contents.Int64Contents.ToArray(),
    };

    /// <summary>Outputs as raw_output_contents, as Triton answers: no per-element encoding at all.</summary>
    private static ModelInferResponse Write(InferenceResult result)
    {
        var response = new ModelInferResponse { ModelName = result.ModelName, ModelVersion = result.Revision, Id = result.Id ?? "" };
        if (result.SequenceState is { } state)
        {
            response.Parameters.Add(Sequences.SequenceParameters.State, new InferParameter { StringParam = Convert.ToBase64String(state) });
            if (result.SequenceHandoff)
            {
                response.Parameters.Add(Sequences.SequenceParameters.Handoff, new InferParameter { BoolParam = true });
            }
        }

        foreach (var output in result.Outputs)
        {
            response.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor
            {
                Name = output.Name,
                Datatype = output.DataType.ToString(),
                Shape = { output.Shape },
            });
            response.RawOutputContents.Add(ByteString.CopyFrom(RawTensors.Bytes(output.Data)));
        }

        return response;
    }

    private static ModelMetadataResponse.Types.TensorMetadata Metadata(TensorSpec spec) =>
        new() { Name = spec.Name, Datatype = spec.DataType.ToString(), Shape = { spec.Shape } };

    private ServedModel Resolve(string name, string version)
    {
        var served = service.Find(name);
        return string.IsNullOrEmpty(version) || version == served.Revision
            ? served
            : throw new InferenceException(InferenceErrorKind.ModelNotFound, $"model '{name}' version '{version}' is not served here; the served version is '{served.Revision}'.");
    }

    private static T Translate<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (InferenceException e)
        {
            throw ToRpc(e);
        }
    }

    private static RpcException ToRpc(InferenceException e) => new(new Status(e.Kind switch
    {
        InferenceErrorKind.InvalidInput or InferenceErrorKind.UnsupportedMediaType => StatusCode.InvalidArgument,
        InferenceErrorKind.ModelNotFound => StatusCode.NotFound,
        InferenceErrorKind.ModelNotReady or InferenceErrorKind.Overloaded or InferenceErrorKind.Draining => StatusCode.Unavailable,
        InferenceErrorKind.SessionsFull => StatusCode.ResourceExhausted,
        _ => StatusCode.Internal,
    }, e.Message));

    /// <summary>HTTP status codes for the request metric.</summary>
    private static class StatusCodes
    {
        public const int OK = 200;
        public const int Internal = 500;
        public const int ClientClosed = 499;
    }
}
