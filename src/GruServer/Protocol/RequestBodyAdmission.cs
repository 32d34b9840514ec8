using GruServer.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace GruServer.Protocol;

/// <summary>
/// Bounds what request bodies can hold of the server. Every body reserves its size (Content-Length, or
/// --max-request-bytes when chunked) from --max-request-bytes-in-flight until its request ends, and a request that does
/// not fit gets 503 with Retry-After at once, before a byte is read: many slow bodies cannot add up to more memory than
/// that. A body must also arrive within --request-body-timeout, or its connection is closed: Kestrel's minimum data rate
/// (240 bytes/s) alone lets a 16 MiB body trickle in for most of a day.
/// </summary>
internal sealed partial class RequestBodyAdmission(RequestDelegate next, GruServerOptions options, TimeProvider time, ILogger<RequestBodyAdmission> logger)
{
    private long _reserved;

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        // gRPC is bounded per message (MaxReceiveMessageSize) and its sequence streams are meant to stay open: not counted here.
        var grpc = request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;
        var hasBody = request.ContentLength > 0 || (request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);
        var size = grpc || !hasBody ? 0 : Math.Min(request.ContentLength ?? options.MaxRequestBytes, options.MaxRequestBytes);
        if (size == 0)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (Interlocked.Add(ref _reserved, size) > options.MaxRequestBytesInFlight)
        {
            Interlocked.Add(ref _reserved, -size);
            Log.Refused(logger, size, options.MaxRequestBytesInFlight);
            context.Response.Headers.RetryAfter = "1";
            await V2Json.WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable,
                $"the server is receiving {options.MaxRequestBytesInFlight} bytes of request bodies already ({ServerSettings.MaxRequestBytesInFlight.Flag}); retry shortly.").ConfigureAwait(false);
            return;
        }

        var body = new DeadlineStream(request.Body, request.ContentLength);
        request.Body = body;
        // The deadline covers the body only: once it has all arrived, inference may take as long as it takes.
        using var deadline = time.CreateTimer(_ =>
        {
            if (!body.Completed)
            {
                Log.BodyTooSlow(logger, options.RequestBodyTimeout.TotalSeconds, body.Received);
                context.Abort();
            }
        }, null, options.RequestBodyTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Add(ref _reserved, -size);
        }
    }

    /// <summary>Passes reads through and notes when the body has ended.</summary>
    private sealed class DeadlineStream(Stream inner, long? length) : Stream
    {
        private long _received;
        private volatile bool _completed;

        public bool Completed => _completed;

        public long Received => Interlocked.Read(ref _received);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Note(read, buffer.Length);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            Note(read, count);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private void Note(int read, int asked)
        {
            var received = Interlocked.Add(ref _received, read);
            if ((read == 0 && asked > 0) || received >= length) _completed = true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(30, LogLevel.Warning, "Refused a request body of {Bytes} bytes with 503: {Limit} bytes of bodies are being received already")]
        public static partial void Refused(ILogger logger, long bytes, long limit);

        [LoggerMessage(31, LogLevel.Warning, "Closed a connection whose request body had not arrived after {Seconds}s ({Bytes} bytes so far)")]
        public static partial void BodyTooSlow(ILogger logger, double seconds, long bytes);
    }
}
