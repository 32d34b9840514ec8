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
    private const string NeedsInputs = "the request needs an 'inputs' array of {name, shape, datatype, data} objects.";
    private const string OutputEntry = "each entry of 'outputs' must be an object with a string 'name'.";
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    /// <summary>The binary tensor extension's header: the length of the JSON part, raw tensor bytes after it.</summary>
    public const string HeaderLengthName = "Inference-Header-Content-Length";

    /// <summary>415 unless the body is declared as JSON (or not declared at all, as some clients do); with the binary
    /// extension's header also <c>application/octet-stream</c>.</summary>
    public static void CheckContentType(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var contentType = request.ContentType;
        if (string.IsNullOrEmpty(contentType))
        {
            return;
        }

        var binary = request.Headers.ContainsKey(HeaderLengthName);
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media)
            || !(media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                || media.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
                || (binary && media.MediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase))))
        {
            throw new InferenceException(InferenceErrorKind.UnsupportedMediaType,
                $"Content-Type '{contentType}' is not supported; send the request as JSON with 'Content-Type: application/json', " +
                $"or JSON followed by raw tensor bytes with '{HeaderLengthName}' (Content-Type application/octet-stream or application/json).",
                SchemaErrorReasons.UnsupportedContentType);
        }
    }

    /// <summary>The JSON part's length from <see cref="HeaderLengthName"/>, or null without the header (all JSON).</summary>
    public static int? ReadHeaderLength(HttpRequest request, int bodyLength)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!request.Headers.TryGetValue(HeaderLengthName, out var values))
        {
            return null;
        }

        var text = values.ToString();
        if (values.Count != 1 || !int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var length))
        {
            throw Envelope($"{HeaderLengthName} is '{text}'; it must be one whole number of bytes: the length of the JSON part before the binary tensor data.");
        }

        if (length > bodyLength)
        {
            throw Envelope($"{HeaderLengthName} is {length} but the body has only {bodyLength} bytes; it must be the length of the JSON part at the body's start.");
        }

        return length;
    }

    /// <summary>Reads the whole body, refusing more than <paramref name="maxBytes"/> before buffering it, into a buffer
    /// rented from the shared pool (a 70 KB JSON request allocated per request would soon be on the large object heap):
    /// dispose it once the request is parsed, which copies everything it keeps.</summary>
    public static async Task<RequestBody> ReadBodyAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        var body = new RequestBody((int)Math.Min(request.ContentLength ?? 16 * 1024, maxBytes + 1));
        try
        {
            await body.FillAsync(request.Body, maxBytes, cancellationToken).ConfigureAwait(false);
            return body;
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    /// <summary>Reads <paramref name="body"/> to its end into <paramref name="target"/>, growing it up to one byte past the limit.</summary>
    internal static async Task ReadToEndAsync(Stream body, RequestBody target, long maxBytes, CancellationToken cancellationToken)
    {
        var length = 0;
        try
        {
            while (true)
            {
                var limit = (int)Math.Min(target.Buffer.Length, maxBytes + 1);
                if (length == limit)
                {
                    if (length > maxBytes)
                    {
                        throw TooLarge(maxBytes);
                    }

                    target.Grow((int)Math.Min(Math.Max((long)target.Buffer.Length * 2, 16 * 1024), maxBytes + 1));
                    continue;
                }

                var read = await body.ReadAsync(target.Buffer.AsMemory(length, limit - length), cancellationToken).ConfigureAwait(false);
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

        target.Length = length;
    }

    /// <summary>Parses the JSON body; input data is converted to the datatype each input declares.</summary>
    /// <remarks>Streams over the buffered body with <see cref="Utf8JsonReader"/> instead of building a DOM: a large
    /// tensor costs one pass and no document index, whose size grows with every number in the request. Problems are
    /// reported in document order, so a syntax error after an invalid field reports the field.</remarks>
    /// <param name="headerLength">With the binary extension, the JSON part's length; the rest of the body is tensor bytes.</param>
    public static ParsedInferRequest Parse(ReadOnlyMemory<byte> body, ModelSignature signature, int? headerLength = null)
    {
        var json = headerLength is { } length ? body[..length] : body;
        var binary = new BinaryData(headerLength is { } start ? body[start..] : ReadOnlyMemory<byte>.Empty, headerLength is not null);
        if (json.IsEmpty)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.MalformedJson, "the request body is empty; send a JSON inference request with an 'inputs' array.");
        }

        try
        {
            var parsed = ParseRequest(json.Span, signature, binary);
            if (binary.Unread > 0)
            {
                throw Envelope($"the body has {binary.Unread} bytes of binary tensor data after the JSON that no input claims; the inputs' binary_data_size must add up to the bytes after the first {HeaderLengthName} bytes.");
            }

            return parsed;
        }
        catch (JsonException e)
        {
            if (JsonNonFiniteScan.ContainsBareNonFinite(json.Span))
            {
                throw InferenceException.Invalid(SchemaErrorReasons.NonFinite,
                    "the request contains NaN or Infinity, which are neither valid JSON nor valid model input; send finite numbers.");
            }

            throw InferenceException.Invalid(SchemaErrorReasons.MalformedJson,
                $"the request body is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {FirstSentence(e.Message)}");
        }
    }

    private static ParsedInferRequest ParseRequest(ReadOnlySpan<byte> json, ModelSignature signature, BinaryData binary)
    {
        var reader = new Utf8JsonReader(json, ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw Envelope("the request must be a JSON object with an 'inputs' array.");
        }

        string? id = null;
        List<NamedTensor>? inputs = null;
        List<string>? outputs = null;
        var binaryOutputs = new HashSet<string>(StringComparer.Ordinal);
        var allBinary = false;
        Dictionary<string, object>? sequence = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var property = reader.GetString();
            reader.Read();
            switch (property)
            {
                case "id" when reader.TokenType == JsonTokenType.String:
                    id = reader.GetString();
                    break;
                case "id" when reader.TokenType != JsonTokenType.Null:
                    throw Envelope("'id' must be a string.");
                case "inputs" when reader.TokenType == JsonTokenType.StartArray:
                    inputs = [];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        inputs.Add(ParseInput(ref reader, json, inputs.Count, signature, binary));
                    }

                    break;
                case "inputs":
                    throw Envelope(NeedsInputs);
                case "outputs" when reader.TokenType == JsonTokenType.StartArray:
                    outputs = ParseOutputs(ref reader, binaryOutputs);
                    break;
                case "parameters" when reader.TokenType == JsonTokenType.StartObject:
                    sequence = ReadRequestParameters(ref reader, out allBinary);
                    break;
                case "outputs" when reader.TokenType != JsonTokenType.Null:
                    throw Envelope("'outputs' must be an array of {name} objects.");
                default:
                    reader.Skip();
                    break;
            }
        }

        return inputs is null
            ? throw Envelope(NeedsInputs)
            : new ParsedInferRequest(
                new InferenceRequest(id, inputs, outputs, sequence is null ? null : Sequences.SequenceParameters.From(sequence)),
                new BinaryOutputs(allBinary, binaryOutputs));
    }

    private static List<string> ParseOutputs(ref Utf8JsonReader reader, HashSet<string> binaryOutputs)
    {
        var outputs = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw Envelope(OutputEntry);
            }

            string? name = null;
            var binary = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var property = reader.GetString();
                reader.Read();
                if (property == "name" && reader.TokenType == JsonTokenType.String)
                {
                    name = reader.GetString();
                }
                else if (property == "parameters" && reader.TokenType == JsonTokenType.StartObject)
                {
                    binary = HasParameter(ref reader, "binary_data", requireTrue: true);
                }
                else
                {
                    reader.Skip();
                }
            }

            if (name is null)
            {
                throw Envelope(OutputEntry);
            }

            if (binary)
            {
                binaryOutputs.Add(name);
            }

            outputs.Add(name);
        }

        return outputs;
    }

    private static NamedTensor ParseInput(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, int index, ModelSignature signature, BinaryData binaryData)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Envelope($"inputs[{index}] must be an object with name, shape, datatype and data.");
        }

        string? name = null, datatypeText = null, badDimension = null;
        List<long>? shape = null;
        long? binarySize = null;
        (int Start, int Length)? data = null;
        NamedTensor? tensor = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var property = reader.GetString();
            reader.Read();
            switch (property)
            {
                case "name" when reader.TokenType == JsonTokenType.String:
                    name = reader.GetString();
                    break;
                case "datatype" when reader.TokenType == JsonTokenType.String:
                    datatypeText = reader.GetString();
                    break;
                case "shape" when reader.TokenType == JsonTokenType.StartArray:
                    shape = [];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var size) && size >= 0)
                        {
                            shape.Add(size);
                        }
                        else
                        {
                            badDimension ??= $"shape[{shape.Count}] is {RawToken(ref reader)}";
                            reader.Skip();
                            shape.Add(-1);
                        }
                    }

                    break;
                case "parameters" when reader.TokenType == JsonTokenType.StartObject:
                    binarySize = ReadBinarySize(ref reader, name);
                    break;
                case "data" when reader.TokenType == JsonTokenType.StartArray:
                    if (binarySize is null && !string.IsNullOrEmpty(name) && shape is not null && badDimension is null && ParseDatatype(datatypeText) is { } known)
                    {
                        // The usual order (name, shape, datatype, data): convert the elements as they stream past.
                        long[] dims = [.. shape];
                        tensor = new NamedTensor(name, known, dims, TensorDataReader.Read(name, known, dims, ref reader, json.Length));
                    }
                    else
                    {
                        // Kept as a slice and read once datatype and shape are known, whatever the property order.
                        var start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        data = (start, (int)reader.BytesConsumed - start);
                    }

                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        if (string.IsNullOrEmpty(name))
        {
            throw Envelope($"inputs[{index}] needs a non-empty string 'name'.");
        }

        var spec = signature.Inputs.FirstOrDefault(s => s.Name == name);
        if (datatypeText is null)
        {
            throw Envelope($"input '{name}' needs a string 'datatype'{Expecting(spec)}.");
        }

        if (ParseDatatype(datatypeText) is not { } datatype)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.DatatypeMismatch,
                $"input '{name}' has datatype '{datatypeText}', which this server does not accept{Expecting(spec)}; supported: FP32, FP64, INT32, INT64.");
        }

        if (shape is null)
        {
            throw Envelope($"input '{name}' needs a 'shape' array of dimension sizes{(spec is null ? "" : $", e.g. {spec.DescribeShape()}")}.");
        }

        if (badDimension is not null)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch, $"input '{name}' {badDimension}; dimensions must be non-negative integers.");
        }

        if (binarySize is { } byteCount)
        {
            if (tensor is not null || data is not null)
            {
                throw Envelope($"input '{name}' has both 'data' and binary_data_size; send its elements one way only.");
            }

            return new NamedTensor(name, datatype, [.. shape], RawTensors.Decode(name, datatype, binaryData.Take(name, byteCount), "binary data"));
        }

        if (tensor is not null)
        {
            return tensor;
        }

        if (data is not { } slice)
        {
            throw Envelope($"input '{name}' needs a 'data' array with its elements in row-major order.");
        }

        long[] shapeDims = [.. shape];
        return new NamedTensor(name, datatype, shapeDims, TensorDataReader.Read(name, datatype, shapeDims, json.Slice(slice.Start, slice.Length), json.Length));
    }

    /// <summary>The protocol's datatype names are case-sensitive; numbers are not names.</summary>
    internal static TensorDataType? ParseDatatype(string? text) =>
        text is not null && !int.TryParse(text, out _) && Enum.TryParse<TensorDataType>(text, ignoreCase: false, out var type) && Enum.IsDefined(type)
            ? type
            : null;

    /// <summary>Reads a parameters object (reader on its start) and says whether it holds <paramref name="parameter"/>.</summary>
    private static bool HasParameter(ref Utf8JsonReader reader, string parameter, bool requireTrue)
    {
        var found = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var matches = reader.ValueTextEquals(parameter);
            reader.Read();
            found |= matches && (!requireTrue || reader.TokenType == JsonTokenType.True);
            reader.Skip();
        }

        return found;
    }

    /// <summary>Reads the request's parameters object (reader on its start): <c>binary_data_output</c>, and the sequence
    /// parameters as strings, integers and booleans for <see cref="Sequences.SequenceParameters.From"/> to judge.</summary>
    private static Dictionary<string, object>? ReadRequestParameters(ref Utf8JsonReader reader, out bool allBinary)
    {
        allBinary = false;
        Dictionary<string, object>? sequence = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (name == "binary_data_output")
            {
                allBinary = reader.TokenType == JsonTokenType.True;
            }
            else if (Sequences.SequenceParameters.IsSequenceParameter(name))
            {
                object value = reader.TokenType switch
                {
                    JsonTokenType.String => reader.GetString()!,
                    JsonTokenType.True => true,
                    JsonTokenType.False => false,
                    JsonTokenType.Number when reader.TryGetInt64(out var number) => number,
                    _ => reader.TokenType, // neither string, integer nor boolean: refused by SequenceParameters.From
                };
                (sequence ??= new(StringComparer.Ordinal))[name] = value;
            }

            reader.Skip();
        }

        return sequence;
    }

    /// <summary>Reads an input's parameters object (reader on its start) for <c>binary_data_size</c>.</summary>
    private static long? ReadBinarySize(ref Utf8JsonReader reader, string? name)
    {
        long? size = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var matches = reader.ValueTextEquals("binary_data_size");
            reader.Read();
            if (matches)
            {
                size = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) && value >= 0
                    ? value
                    : throw Envelope($"input '{name}' has binary_data_size {RawToken(ref reader)}; it must be a whole number of bytes.");
            }

            reader.Skip();
        }

        return size;
    }

    /// <summary>The current token as it appears in the request, shortened, for error messages.</summary>
    internal static string RawToken(ref Utf8JsonReader reader)
    {
        var text = reader.TokenType switch
        {
            JsonTokenType.String => $"\"{reader.GetString()}\"",
            JsonTokenType.StartObject => "an object",
            JsonTokenType.StartArray => "an array",
            _ => System.Text.Encoding.UTF8.GetString(reader.ValueSpan),
        };
        return text.Length > 40 ? text[..40] + "…" : text;
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
