namespace GruServer.Inference;

/// <summary>What went wrong with a request, independent of the protocol that carried it.</summary>
internal enum InferenceErrorKind
{
    InvalidInput,
    UnsupportedMediaType,
    ModelNotFound,
    ModelNotReady,

    /// <summary>The batcher's queue is full: 503 with Retry-After.</summary>
    Overloaded,

    /// <summary>The server holds its maximum of live Stateful sequences (--max-sessions): 429.</summary>
    SessionsFull,

    /// <summary>The server is shutting down and takes no new Stateful sequence: 503 with Retry-After, connection closed,
    /// so the retry reaches another replica.</summary>
    Draining,
    InjectedFault,
    Internal,
}

/// <summary>Labels of <c>gru_input_schema_errors_total{reason}</c>; every series is pre-created at zero.</summary>
internal static class SchemaErrorReasons
{
    public const string MalformedJson = "malformed_json";
    public const string UnsupportedContentType = "unsupported_content_type";
    public const string BodyTooLarge = "body_too_large";
    public const string TruncatedBody = "truncated_body";
    public const string InvalidRequest = "invalid_request";
    public const string UnknownInput = "unknown_input";
    public const string MissingInput = "missing_input";
    public const string DuplicateInput = "duplicate_input";
    public const string DatatypeMismatch = "datatype_mismatch";
    public const string ShapeMismatch = "shape_mismatch";
    public const string DataLengthMismatch = "data_length_mismatch";
    public const string RaggedData = "ragged_data";
    public const string InvalidValue = "invalid_value";
    public const string NonFinite = "non_finite";
    public const string SequenceTooLong = "sequence_too_long";
    public const string BatchTooLarge = "batch_too_large";
    public const string SequenceLengthOutOfRange = "sequence_length_out_of_range";
    public const string UnknownOutput = "unknown_output";
    public const string RejectedByModel = "rejected_by_model";
    public const string InvalidSequence = "invalid_sequence";
    public const string UnknownSequence = "unknown_sequence";
    public const string SequenceStateMismatch = "sequence_state_mismatch";

    public static IReadOnlyList<string> All { get; } =
    [
        MalformedJson, UnsupportedContentType, BodyTooLarge, TruncatedBody, InvalidRequest, UnknownInput, MissingInput,
        DuplicateInput, DatatypeMismatch, ShapeMismatch, DataLengthMismatch, RaggedData, InvalidValue, NonFinite,
        SequenceTooLong, BatchTooLarge, SequenceLengthOutOfRange, UnknownOutput, RejectedByModel, InvalidSequence, UnknownSequence,
        SequenceStateMismatch,
    ];
}

/// <summary>A request failure with its kind (mapped to a status code in one place), a reason label for
/// schema errors, and a message for the caller that names the field and the fix.</summary>
internal sealed class InferenceException : Exception
{
    public InferenceException(InferenceErrorKind kind, string message, string? reason = null)
        : base(message)
    {
        Kind = kind;
        Reason = reason;
    }

    public InferenceException()
    {
    }

    public InferenceException(string message)
        : base(message)
    {
    }

    public InferenceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public InferenceErrorKind Kind { get; } = InferenceErrorKind.Internal;

    /// <summary>The <c>reason</c> label when this is an input schema error.</summary>
    public string? Reason { get; }

    public static InferenceException Invalid(string reason, string message) => new(InferenceErrorKind.InvalidInput, message, reason);
}
