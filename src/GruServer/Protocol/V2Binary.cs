using GruServer.Inference;

namespace GruServer.Protocol;

/// <summary>An infer request read from HTTP, with how the caller wants its outputs encoded.</summary>
internal sealed record ParsedInferRequest(InferenceRequest Request, BinaryOutputs Binary);

/// <summary>Which outputs go back as raw bytes (the binary tensor extension): all of them with the request's
/// <c>binary_data_output</c> parameter, or those whose entry in <c>outputs</c> sets <c>binary_data</c>.</summary>
internal sealed record BinaryOutputs(bool All, IReadOnlySet<string> Names)
{
    public static BinaryOutputs None { get; } = new(false, new HashSet<string>());

    public bool Any => All || Names.Count > 0;

    public bool Contains(string output) => All || Names.Contains(output);
}

/// <summary>The raw tensor bytes after a request's JSON part, handed out in input order as each input's
/// <c>binary_data_size</c> claims them.</summary>
internal sealed class BinaryData(ReadOnlyMemory<byte> bytes, bool headerPresent)
{
    private int _offset;

    /// <summary>Bytes no input has claimed yet.</summary>
    public int Unread => bytes.Length - _offset;

    public ReadOnlySpan<byte> Take(string input, long size)
    {
        if (!headerPresent)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.InvalidRequest,
                $"input '{input}' has binary_data_size but the request has no {V2RequestReader.HeaderLengthName} header; send it with the length of the JSON part, the tensor bytes after it.");
        }

        if (size > Unread)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.InvalidRequest,
                $"input '{input}' has binary_data_size {size} but only {Unread} bytes of binary data remain after the JSON part ({V2RequestReader.HeaderLengthName}); the sizes must match the bytes sent, in input order.");
        }

        var slice = bytes.Span.Slice(_offset, (int)size);
        _offset += (int)size;
        return slice;
    }
}
