using System.Text.Json;
using GruServer.Inference;

namespace GruServer.Protocol;

/// <summary>Converts a v2 <c>data</c> array into a typed row-major array. The protocol allows the data flat or
/// nested like the shape; nested data must match the shape at every level (ragged arrays are rejected).</summary>
internal static class TensorDataReader
{
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 64 };

    /// <summary>Reads a <c>data</c> array kept aside as a slice (when it came before datatype or shape).</summary>
    /// <param name="data">The request's <c>data</c> array, from its <c>[</c> to its <c>]</c>.</param>
    /// <param name="bodyLength">Size of the whole request, which bounds how many elements it can hold.</param>
    public static Array Read(string name, TensorDataType datatype, long[] shape, ReadOnlySpan<byte> data, int bodyLength)
    {
        var reader = new Utf8JsonReader(data, ReaderOptions);
        reader.Read();
        return Read(name, datatype, shape, ref reader, bodyLength);
    }

    /// <summary>Reads the <c>data</c> array the reader is on (its <c>[</c>), leaving the reader on its <c>]</c>.</summary>
    public static Array Read(string name, TensorDataType datatype, long[] shape, ref Utf8JsonReader reader, int bodyLength)
    {
        long expected;
        try
        {
            expected = NamedTensor.ElementCount(shape);
        }
        catch (OverflowException)
        {
            throw InferenceException.Invalid(SchemaErrorReasons.ShapeMismatch, $"input '{name}' shape [{string.Join(", ", shape)}] has too many elements.");
        }

        // Every JSON element takes at least one byte, so no more than the body's length can arrive: the buffer starts
        // at the shape's count unless that cannot fit, and grows only for a request that sends other than its shape says.
        var sink = TensorSink.Create(name, datatype, expected > bodyLength ? 0 : (int)expected);
        var rank = shape.Length;
        var entries = new long[rank + 1];
        bool? nested = null;
        var depth = 0;
        while (depth >= 0 && reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    if (nested == false)
                    {
                        throw Ragged(name, "mixes numbers and nested arrays at the top level");
                    }

                    if (depth >= rank - 1)
                    {
                        throw Ragged(name, $"is nested deeper than its shape's rank {rank}");
                    }

                    nested = true;
                    entries[depth]++;
                    entries[++depth] = 0;
                    break;
                case JsonTokenType.EndArray:
                    if (nested == true)
                    {
                        CheckEntries(name, shape, depth, entries[depth]);
                    }

                    depth--;
                    break;
                default:
                    nested ??= false;
                    if (nested == true && depth < rank - 1)
                    {
                        throw Ragged(name, $"has a number at nesting level {depth} where an array of {shape[depth + 1]} was expected");
                    }

                    entries[depth]++;
                    sink.Add(ref reader);
                    break;
            }
        }

        // The element count and finiteness are checked with every other rule by InferenceValidator, for all protocols.
        return sink.Values;
    }

    private static void CheckEntries(string name, long[] shape, int depth, long count)
    {
        if (count != shape[depth])
        {
            throw Ragged(name, $"has {count} entries at nesting level {depth} where shape [{string.Join(", ", shape)}] says {shape[depth]}");
        }
    }

    private static InferenceException Ragged(string name, string detail) =>
        InferenceException.Invalid(SchemaErrorReasons.RaggedData,
            $"input '{name}' data {detail}; send data flat in row-major order, or nested exactly like the shape (pad shorter sequences and set sequence_lengths).");

    /// <summary>Converts one JSON value, throwing an <see cref="InferenceException"/> when it does not fit.</summary>
    private delegate T Converter<T>(TensorSink sink, ref Utf8JsonReader reader);

    /// <summary>Accumulates converted elements into the typed array for one datatype.</summary>
    private abstract class TensorSink(string name, TensorDataType datatype)
    {
        /// <summary>Elements stored.</summary>
        public int Count { get; protected set; }

        public abstract Array Values { get; }

        protected string Name { get; } = name;

        protected TensorDataType DataType { get; } = datatype;

        public static TensorSink Create(string name, TensorDataType datatype, int capacity) => datatype switch
        {
            TensorDataType.FP32 => new Sink<float>(name, datatype, capacity, static (TensorSink s, ref Utf8JsonReader r) => (float)s.ReadFloating(ref r, float.MaxValue)),
            TensorDataType.FP64 => new Sink<double>(name, datatype, capacity, static (TensorSink s, ref Utf8JsonReader r) => s.ReadFloating(ref r, double.MaxValue)),
            TensorDataType.INT32 => new Sink<int>(name, datatype, capacity,
                static (TensorSink s, ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Number && r.TryGetInt32(out var v) ? v : throw s.Invalid(ref r)),
            _ => new Sink<long>(name, datatype, capacity,
                static (TensorSink s, ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Number && r.TryGetInt64(out var v) ? v : throw s.Invalid(ref r)),
        };

        public abstract void Add(ref Utf8JsonReader reader);

        private InferenceException Invalid(ref Utf8JsonReader reader)
        {
            if (reader.TokenType == JsonTokenType.String && reader.GetString() is { } text
                && (text.Contains("nan", StringComparison.OrdinalIgnoreCase) || text.Contains("inf", StringComparison.OrdinalIgnoreCase)))
            {
                return NonFinite(text);
            }

            return InferenceException.Invalid(SchemaErrorReasons.InvalidValue,
                $"input '{Name}' data[{Count}] is {V2RequestReader.RawToken(ref reader)}; expected {Describe(DataType)}.");
        }

        private InferenceException NonFinite(string value) => InferenceException.Invalid(SchemaErrorReasons.NonFinite,
            $"input '{Name}' data[{Count}] is {value}; {DataType} inputs must be finite numbers (no NaN or Infinity).");

        private double ReadFloating(ref Utf8JsonReader reader, double max)
        {
            if (reader.TokenType == JsonTokenType.String && NonFiniteText(reader.GetString()) is { } special)
            {
                // Many encoders write NaN and infinities as strings: decoded as what they say, refused by the validator.
                return special;
            }

            if (reader.TokenType != JsonTokenType.Number)
            {
                throw Invalid(ref reader);
            }

            if (!reader.TryGetDouble(out var value) || !double.IsFinite(value) || Math.Abs(value) > max)
            {
                throw NonFinite(System.Text.Encoding.UTF8.GetString(reader.ValueSpan) + $" (outside the {DataType} range)");
            }

            return value;
        }

        private static double? NonFiniteText(string? text) => text?.Trim() switch
        {
            "NaN" or "nan" or "NAN" => double.NaN,
            "Infinity" or "+Infinity" or "inf" or "+inf" or "Inf" => double.PositiveInfinity,
            "-Infinity" or "-inf" or "-Inf" => double.NegativeInfinity,
            _ => null,
        };

        private static string Describe(TensorDataType type) => type switch
        {
            TensorDataType.FP32 or TensorDataType.FP64 => $"a {type} number",
            TensorDataType.INT32 => "a whole number that fits INT32",
            _ => "a whole number that fits INT64",
        };

        /// <summary>A sink for one element type.</summary>
        private sealed class Sink<T>(string name, TensorDataType datatype, int capacity, Converter<T> convert) : TensorSink(name, datatype)
        {
            private T[] _values = new T[capacity];

            public override Array Values
            {
                get
                {
                    if (Count != _values.Length)
                    {
                        Array.Resize(ref _values, Count);
                    }

                    return _values;
                }
            }

            public override void Add(ref Utf8JsonReader reader)
            {
                var value = convert(this, ref reader);
                if (Count == _values.Length)
                {
                    Array.Resize(ref _values, Math.Max(16, _values.Length * 2));
                }

                _values[Count++] = value;
            }
        }
    }
}

/// <summary>Finds bare <c>NaN</c>/<c>Infinity</c> tokens outside strings, which many JSON encoders emit for
/// non-finite floats, so the caller hears "non-finite value" rather than a generic JSON syntax error.</summary>
internal static class JsonNonFiniteScan
{
    public static bool ContainsBareNonFinite(ReadOnlySpan<byte> json)
    {
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                if (c == (byte)'\\')
                {
                    i++;
                }
                else if (c == (byte)'"')
                {
                    inString = false;
                }
            }
            else if (c == (byte)'"')
            {
                inString = true;
            }
            else if (json[i..].StartsWith("NaN"u8) || json[i..].StartsWith("Infinity"u8))
            {
                return true;
            }
        }

        return false;
    }
}
