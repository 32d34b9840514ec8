using System.Text.Json;
using GruServer.Inference;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace GruServer.Protocol;

/// <summary>Reads an Open Inference Protocol (v2) infer request from HTTP/JSON into a protocol-neutral
/// <see cref="InferenceRequest"/>. Every way a body can be wrong becomes an <see cref="InferenceException"/>
/// with a schema-error reason, never an unhandled exception.</summary>
internal static class V2RequestReader
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>415 unless the body is declared as JSON (or not declared at all, as some clients do).</summary>
    public static void CheckContentType(HttpRequest request)
    {
        var contentType = request.ContentType;
        if (string.IsNullOrEmpty(contentType))
        {
            return;
        }

        if (!MediaTypeHeaderValue.TryParse(contentType, out var media)
            || !(media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                || media.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            throw new InferenceException(InferenceErrorKind.UnsupportedMediaType,
                $"Content-Type '{contentType}' is not supported; send the request as JSON with 'Content-Type: application/json'.",
                SchemaErrorReasons.UnsupportedContentType);
        }
    }

    /// <summary>Reads the whole body, refusing more than <paramref name="maxBytes"/> before buffering it.</summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        var buffer = new byte[(int)Math.Min(request.ContentLength ?? 16 * 1024, maxBytes + 1)];
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        throw TooLarge(maxBytes);
                    }

                    Array.Resize(ref buffer, (int)Math.Min(Math.Max((long)buffer.Length * 2, 16 * 1024), maxBytes + 1));
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(maxBytes);
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            // Also when the client hung up: the request still counts as a truncated body in the metrics.
            throw InferenceException.Invalid(SchemaErrorReasons.TruncatedBody,
                $"the request body ended before its declared length or arrived too slowly ({e.Message}); send the complete JSON body.");
        }

        if (length > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        return buffer.AsMemory(0, length);
    }

    /// <summary>Parses the JSON body; input data is converted to the datatype each input declares.</summary>
    public static InferenceRequest Parse(ReadOnlyMemory<byte> body, ModelSignature signature)
    {
        if (body.IsEmpty)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.MalformedJson, "the request body is empty; send a JSON inference request with an 'inputs' array.");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException e)
        {
            if (JsonNonFiniteScan.ContainsBareNonFinite(body.Span))
            {
                throw InferenceException.Invalid(SchemaErrorReasons.NonFinite,
                    "the request contains NaN or Infinity, which are neither valid JSON nor valid model input; send finite numbers.");
            }

            throw InferenceException.Invalid(SchemaErrorReasons.MalformedJson,
                $"the request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {FirstSentence(e.Message)}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Envelope("the request must be a JSON object with an 'inputs' array.");
            }

            string? id = null;
            if (root.TryGetProperty("id", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
            {
                id = idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : throw Envelope("'id' must be a string.");
            }

            if (!root.TryGetProperty("inputs", out var inputsElement) || inputsElement.ValueKind != JsonValueKind.Array)
            {
                throw Envelope("the request needs an 'inputs' array of {name, shape, datatype, data} objects.");
            }

            var inputs = new List<NamedTensor>();
            var index = 0;
            foreach (var input in inputsElement.EnumerateArray())
            {
                inputs.Add(ParseInput(input, index++, signature, body.Length));
            }

            List<string>? outputs = null;
            if (root.TryGetProperty("outputs", out var outputsElement) && outputsElement.ValueKind != JsonValueKind.Null)
            {
                if (outputsElement.ValueKind != JsonValueKind.Array)
                {
                    throw Envelope("'outputs' must be an array of {name} objects.");
                }

                outputs = [];
                foreach (var output in outputsElement.EnumerateArray())
                {
                    if (output.ValueKind != JsonValueKind.Object || !output.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                    {
                        throw Envelope("each entry of 'outputs' must be an object with a string 'name'.");
                    }

                    if (output.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object
                        && parameters.TryGetProperty("binary_data", out var binary) && binary.ValueKind == JsonValueKind.True)
                    {
                        throw Envelope($"output '{name.GetString()}' asks for binary_data; this server answers in JSON only, remove the parameter.");
                    }

                    outputs.Add(name.GetString()!);
                }
            }

            return new InferenceRequest(id, inputs, outputs);
        }
    }

    private static NamedTensor ParseInput(JsonElement input, int index, ModelSignature signature, int bodyLength)
    {
        if (input.ValueKind != JsonValueKind.Object)
        {
            throw Envelope($"inputs[{index}] must be an object with name, shape, datatype and data.");
        }

        if (!input.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(nameElement.GetString()))
        {
            throw Envelope($"inputs[{index}] needs a non-empty string 'name'.");
        }

        var name = nameElement.GetString()!;
        var spec = signature.Inputs.FirstOrDefault(s => s.Name == name);
        if (input.TryGetProperty("parameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object
            && parameters.TryGetProperty("binary_data_size", out _))
        {
            throw Envelope($"input '{name}' uses binary_data_size; this server takes tensor data as JSON 'data' arrays only.");
        }

        if (!input.TryGetProperty("datatype", out var datatypeElement) || datatypeElement.ValueKind != JsonValueKind.String)
        {
            throw Envelope($"input '{name}' needs a string 'datatype'{Expecting(spec)}.");
        }

        var datatypeText = datatypeElement.GetString()!;
        if (!Enum.TryParse<TensorDataType>(datatypeText, ignoreCase: false, out var datatype) || !Enum.IsDefined(datatype) || int.TryParse(datatypeText, out _))
        {
            throw InferenceException.Invalid(SchemaErrorReasons.DatatypeMismatch,
                $"input '{name}' has datatype '{datatypeText}', which this server does not accept{Expecting(spec)}; supported: FP32, FP64, INT32, INT64.");
        }

        if (!input.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Envelope($"input '{name}' needs a 'shape' array of dimension sizes{(spec is null ? "" : $", e.g. {spec.DescribeShape()}")}.");
        }

        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var size) || size < 0)
            {
                throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch, $"input '{name}' shape[{i}] is {dim.GetRawText()}; dimensions must be non-negative integers.");
            }

            shape[i++] = size;
        }

        if (!input.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw Envelope($"input '{name}' needs a 'data' array with its elements in row-major order.");
        }

        return new NamedTensor(name, datatype, shape, TensorDataReader.Read(name, datatype, shape, data, bodyLength));
    }

    private static string Expecting(TensorSpec? spec) => spec is null ? "" : $"; the model expects {spec.DataType}";

    private static InferenceException Envelope(string message) => InferenceException.Invalid(SchemaErrorReasons.InvalidRequest, message);

    private static InferenceException TooLarge(long maxBytes) => InferenceException.Invalid(SchemaErrorReasons.BodyTooLarge,
        $"the request body exceeds {maxBytes} bytes (--max-request-bytes); send fewer or shorter sequences per request.");

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message : message[..(end + 1)];
    }
}
