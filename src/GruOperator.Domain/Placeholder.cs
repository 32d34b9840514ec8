namespace GruOperator.Domain; internal static class Placeholder;
