using System.Text.Json;
using GruServer.Inference;

namespace GruServer.Protocol;

/// <summary>Converts a v2 <c>data</c> array into a typed row-major array. The protocol allows the data flat or
/// nested like the shape; nested data must match the shape at every level (ragged arrays are rejected).</summary>
internal static class TensorDataReader
{
    public static Array Read(string name, TensorDataType datatype, long[] shape, JsonElement data, int bodyLength)
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

        // Every JSON element takes at least one byte, so a shape larger than the body cannot be matched:
        // refuse before allocating for it.
        if (expected > bodyLength)
        {
            throw LengthMismatch(name, shape, expected, CountLeaves(data));
        }

        var sink = TensorSink.Create(name, datatype, (int)expected);
        var nested = data.GetArrayLength() > 0 && data[0].ValueKind == JsonValueKind.Array;
        if (nested)
        {
            ReadNested(name, shape, data, 0, sink, expected);
        }
        else
        {
            foreach (var element in data.EnumerateArray())
            {
                if (element.ValueKind == JsonValueKind.Array)
                {
                    throw Ragged(name, "mixes numbers and nested arrays at the top level");
                }

                if (sink.Count == expected)
                {
                    throw LengthMismatch(name, shape, expected, CountLeaves(data));
                }

                sink.Add(element);
            }
        }

        if (sink.Count != expected)
        {
            throw LengthMismatch(name, shape, expected, sink.Count);
        }

        return sink.Values;
    }

    private static void ReadNested(string name, long[] shape, JsonElement array, int depth, TensorSink sink, long expected)
    {
        if (depth >= shape.Length)
        {
            throw Ragged(name, $"is nested {depth + 1} levels deep but the shape has rank {shape.Length}");
        }

        var length = array.GetArrayLength();
        if (length != shape[depth])
        {
            throw Ragged(name, $"has {length} entries at nesting level {depth} where shape [{string.Join(", ", shape)}] says {shape[depth]}");
        }

        var last = depth == shape.Length - 1;
        foreach (var element in array.EnumerateArray())
        {
            if (last)
            {
                if (element.ValueKind == JsonValueKind.Array)
                {
                    throw Ragged(name, $"is nested deeper than its shape's rank {shape.Length}");
                }

                sink.Add(element);
            }
            else
            {
                if (element.ValueKind != JsonValueKind.Array)
                {
                    throw Ragged(name, $"has a number at nesting level {depth} where an array of {shape[depth + 1]} was expected");
                }

                ReadNested(name, shape, element, depth + 1, sink, expected);
            }
        }
    }

    private static long CountLeaves(JsonElement element) =>
        element.ValueKind == JsonValueKind.Array ? element.EnumerateArray().Sum(CountLeaves) : 1;

    private static InferenceException LengthMismatch(string name, long[] shape, long expected, long actual) =>
        InferenceException.Invalid(SchemaErrorReasons.DataLengthMismatch,
            $"input '{name}' has {actual} data elements but shape [{string.Join(", ", shape)}] needs {expected}; data and shape must agree.");

    private static InferenceException Ragged(string name, string detail) =>
        InferenceException.Invalid(SchemaErrorReasons.RaggedData,
            $"input '{name}' data {detail}; send data flat in row-major order, or nested exactly like the shape (pad shorter sequences and set sequence_lengths).");

    /// <summary>Accumulates converted elements into the typed array for one datatype.</summary>
    private abstract class TensorSink
    {
        protected TensorSink(string name, TensorDataType datatype)
        {
            Name = name;
            DataType = datatype;
        }

        public int Count { get; protected set; }

        public abstract Array Values { get; }

        protected string Name { get; }

        protected TensorDataType DataType { get; }

        public static TensorSink Create(string name, TensorDataType datatype, int count) => datatype switch
        {
            TensorDataType.FP32 => new Sink<float>(name, datatype, count, static (s, e) => (float)s.ReadFloating(e, float.MaxValue)),
            TensorDataType.FP64 => new Sink<double>(name, datatype, count, static (s, e) => s.ReadFloating(e, double.MaxValue)),
            TensorDataType.INT32 => new Sink<int>(name, datatype, count,
                static (s, e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) ? v : throw s.Invalid(e)),
            _ => new Sink<long>(name, datatype, count,
                static (s, e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out var v) ? v : throw s.Invalid(e)),
        };

        public abstract void Add(JsonElement element);

        private InferenceException Invalid(JsonElement element)
        {
            if (element.ValueKind == JsonValueKind.String && element.GetString() is { } text
                && (text.Contains("nan", StringComparison.OrdinalIgnoreCase) || text.Contains("inf", StringComparison.OrdinalIgnoreCase)))
            {
                return NonFinite(text);
            }

            var raw = element.GetRawText();
            return InferenceException.Invalid(SchemaErrorReasons.InvalidValue,
                $"input '{Name}' data[{Count}] is {(raw.Length > 40 ? raw[..40] + "…" : raw)}; expected {Describe(DataType)}.");
        }

        private InferenceException NonFinite(string value) => InferenceException.Invalid(SchemaErrorReasons.NonFinite,
            $"input '{Name}' data[{Count}] is {value}; {DataType} inputs must be finite numbers (no NaN or Infinity).");

        private double ReadFloating(JsonElement element, double max)
        {
            if (element.ValueKind != JsonValueKind.Number)
            {
                throw Invalid(element);
            }

            if (!element.TryGetDouble(out var value) || !double.IsFinite(value) || Math.Abs(value) > max)
            {
                throw NonFinite(element.GetRawText() + $" (outside the {DataType} range)");
            }

            return value;
        }

        private static string Describe(TensorDataType type) => type switch
        {
            TensorDataType.FP32 or TensorDataType.FP64 => $"a {type} number",
            TensorDataType.INT32 => "a whole number that fits INT32",
            _ => "a whole number that fits INT64",
        };
    }

    /// <summary>A sink for one element type; <paramref name="convert"/> reads one JSON element or throws.</summary>
    private sealed class Sink<T>(string name, TensorDataType datatype, int count, Func<TensorSink, JsonElement, T> convert)
        : TensorSink(name, datatype)
    {
        private readonly T[] _values = new T[count];

        public override Array Values => _values;

        public override void Add(JsonElement element)
        {
            var value = convert(this, element);
            _values[Count++] = value;
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
