using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using GruServer.Inference;
using Microsoft.AspNetCore.Http;

namespace GruServer.Protocol;

/// <summary>Writes v2 JSON bodies straight to the response with <see cref="Utf8JsonWriter"/>: no DTO copies of
/// tensor data, and float outputs written in their shortest round-trip form.</summary>
internal static class V2Json
{
    // Error messages quote names ('input'); the relaxed encoder keeps them readable instead of \u0027.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task WriteAsync(HttpContext context, int statusCode, Action<Utf8JsonWriter> writeProperties)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        var writer = new Utf8JsonWriter(context.Response.BodyWriter, WriterOptions);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            writeProperties(writer);
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>The protocol's error body: <c>{"error": "..."}</c>.</summary>
    public static Task WriteErrorAsync(HttpContext context, int statusCode, string message) =>
        WriteAsync(context, statusCode, w => w.WriteString("error", message));

    public static void WriteTensorSpecs(Utf8JsonWriter writer, string property, IReadOnlyList<TensorSpec> specs)
    {
        writer.WriteStartArray(property);
        foreach (var spec in specs)
        {
            writer.WriteStartObject();
            writer.WriteString("name", spec.Name);
            writer.WriteString("datatype", spec.DataType.ToString());
            writer.WriteStartArray("shape");
            WriteAll(writer, spec.Shape, static (w, d) => w.WriteNumberValue(d));
            writer.WriteEndArray();
            // Beyond the protocol's three fields (clients ignore unknown ones): which axes the server batches and
            // limits on, and how it knows, so a caller can check a time-major model is read as one.
            writer.WriteStartObject("parameters");
            writer.WriteNumber("batch_axis", spec.BatchAxis);
            writer.WriteNumber("time_axis", spec.TimeAxis);
            writer.WriteString("axes_source", spec.AxesSource);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    /// <summary>The binary tensor extension's response: the JSON part (binary outputs carry <c>binary_data_size</c>
    /// instead of <c>data</c>), its length in <c>Inference-Header-Content-Length</c>, then each binary output's raw bytes
    /// in output order.</summary>
    public static async Task WriteBinaryInferResultAsync(HttpContext context, InferenceResult result, BinaryOutputs binary)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(result);
        var header = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(header, WriterOptions))
        {
            writer.WriteStartObject();
            WriteInferResult(writer, result, binary);
            writer.WriteEndObject();
        }

        var binaryOutputs = result.Outputs.Where(o => binary.Contains(o.Name)).ToList();
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/octet-stream";
        response.Headers[V2RequestReader.HeaderLengthName] = header.WrittenCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.ContentLength = header.WrittenCount + binaryOutputs.Sum(o => (long)RawTensors.Bytes(o.Data).Length);
        response.BodyWriter.Write(header.WrittenSpan);
        foreach (var output in binaryOutputs)
        {
            response.BodyWriter.Write(RawTensors.Bytes(output.Data));
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    public static void WriteInferResult(Utf8JsonWriter writer, InferenceResult result, BinaryOutputs? binary = null)
    {
        writer.WriteString("model_name", result.ModelName);
        writer.WriteString("model_version", result.Revision);
        if (result.Id is not null)
        {
            writer.WriteString("id", result.Id);
        }

        if (result.SequenceState is { } state)
        {
            writer.WriteStartObject("parameters");
            writer.WriteBase64String(Sequences.SequenceParameters.State, state);
            if (result.SequenceHandoff)
            {
                writer.WriteBoolean(Sequences.SequenceParameters.Handoff, true);
            }

            writer.WriteEndObject();
        }

        writer.WriteStartArray("outputs");
        foreach (var output in result.Outputs)
        {
            writer.WriteStartObject();
            writer.WriteString("name", output.Name);
            writer.WriteString("datatype", output.DataType.ToString());
            writer.WriteStartArray("shape");
            WriteAll(writer, output.Shape, static (w, d) => w.WriteNumberValue(d));
            writer.WriteEndArray();
            if (binary is not null && binary.Contains(output.Name))
            {
                writer.WriteStartObject("parameters");
                writer.WriteNumber("binary_data_size", RawTensors.Bytes(output.Data).Length);
                writer.WriteEndObject();
                writer.WriteEndObject();
                continue;
            }

            writer.WriteStartArray("data");
            switch (output.Data)
            {
                case float[] floats:
                    WriteAll(writer, floats, static (w, v) => w.WriteNumberValue(v));
                    break;
                case double[] doubles:
                    WriteAll(writer, doubles, static (w, v) => w.WriteNumberValue(v));
                    break;
                case int[] ints:
                    WriteAll(writer, ints, static (w, v) => w.WriteNumberValue(v));
                    break;
                case long[] longs:
                    WriteAll(writer, longs, static (w, v) => w.WriteNumberValue(v));
                    break;
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteAll<T>(Utf8JsonWriter writer, T[] values, Action<Utf8JsonWriter, T> write)
    {
        foreach (var value in values)
        {
            write(writer, value);
        }
    }
}
