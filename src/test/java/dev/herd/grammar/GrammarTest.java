package dev.herd.grammar;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GrammarTest {
    private static Grammar schema(String json) {
        return Grammar.schema(SchemaCheck.json(json));
    }

    /** Whether the whole text is an output of the grammar. */
    private static boolean accepts(Grammar g, String text) {
        State s = g.start().advance(text.getBytes(StandardCharsets.UTF_8));
        return s != null && s.complete();
    }

    private static final Grammar PERSON = schema("""
            {"type": "object", "additionalProperties": false, "required": ["name", "tags"],
             "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b\\"c"]}, "maxItems": 2},
                            "address": {"type": ["object", "null"], "properties": {"zip": {"type": "number"}}, "required": ["zip"], "additionalProperties": false}}}""");

    @Test
    void acceptsValidDocumentsWithAnyKeyOrderSpacesEscapesAndUnicode() {
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[]}")).isTrue();
        assertThat(accepts(PERSON, " { \"tags\" : [ \"a\" , \"b\\\"c\" ] ,\n\"name\" : \"\\\"é\\u00e9\\n😀\" , \"age\": -12 }")).isTrue();
        assertThat(accepts(PERSON, "{\"name\":\"\",\"tags\":[],\"address\":null}")).isTrue();
        assertThat(accepts(PERSON, "{\"name\":\"\",\"tags\":[],\"address\":{\"zip\":-0.5e+10}}")).isTrue();
    }

    @Test
    void refusesWhatBreaksTheSchemaOrJson() {
        assertThat(accepts(PERSON, "{\"name\":\"x\"}")).as("a required key missing").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[],\"other\":1}")).as("an undeclared key").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"name\":\"y\",\"tags\":[]}")).as("a key twice").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[\"a\",\"a\",\"a\"]}")).as("more than maxItems").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[\"c\"]}")).as("not in the enum").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[],}")).as("a trailing comma").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[],\"age\":1.5}")).as("a fraction for an integer").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[],\"age\":01}")).as("a leading zero").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"a\u0001\",\"tags\":[]}")).as("a raw control character").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"\\ud83d\\ude00\",\"tags\":[]}")).as("a surrogate escape").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"\\x\",\"tags\":[]}")).as("an unknown escape").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[]} ")).as("text after the value").isFalse();
        assertThat(accepts(PERSON, "{\"name\":  \"x\",\"tags\":[]}")).as("two spaces in a row").isFalse();
        assertThat(accepts(PERSON, "{\"name\":\"x\",\"tags\":[]")).as("unfinished").isFalse();
    }

    @Test
    void refusesInvalidUtf8InsideStrings() {
        State s = PERSON.start().advance("{\"name\":\"".getBytes(StandardCharsets.UTF_8));
        assertThat(s.advance(0xc0)).as("overlong lead byte").isNull();
        assertThat(s.advance(0xed).advance(0xa0)).as("a UTF-8 surrogate").isNull();
        assertThat(s.advance(0xf4).advance(0x90)).as("above U+10FFFF").isNull();
        assertThat(s.advance(0x80)).as("a lone continuation byte").isNull();
        assertThat(s.advance(0xe2).advance(0x82).advance(0xac)).as("the euro sign").isNotNull();
    }

    @Test
    void aTopLevelNumberMayEndOrGoOn() {
        Grammar g = schema("{\"type\": \"integer\"}");
        State s = g.start().advance("12".getBytes());
        assertThat(s.complete()).isTrue();
        assertThat(s.advance('3')).isNotNull();
        assertThat(s.advance('.')).isNull();
        assertThat(accepts(g, "-0")).isTrue();
        assertThat(accepts(g, "-")).isFalse();
    }

    @Test
    void enumNumbersThatArePrefixesOfEachOtherEndAtTheRightPlace() {
        Grammar g = schema("{\"type\": \"array\", \"items\": {\"enum\": [1, 12]}}");
        assertThat(accepts(g, "[1,12,1]")).isTrue();
        assertThat(accepts(g, "[13]")).isFalse();
        assertThat(accepts(g, "[123]")).isFalse();
    }

    @Test
    void jsonObjectTakesAnyObjectButNothingElse() {
        Grammar g = Grammar.jsonObject();
        assertThat(accepts(g, "{\"a\":[1,{\"b\":null},\"x\",true,-1.5E3],\"c\":{}}")).isTrue();
        assertThat(accepts(g, "[1]")).isFalse();
        assertThat(accepts(g, "{\"a\":1,\"a\":2}")).as("a key twice").isFalse();
    }

    @Test
    void anyOfTakesBranchesThatBeginDifferently() {
        Grammar g = schema("{\"anyOf\": [{\"type\": \"string\"}, {\"anyOf\": [{\"type\": \"null\"}, {\"type\": \"array\", \"items\": {\"type\": \"integer\"}}]}]}");
        assertThat(accepts(g, "\"x\"")).isTrue();
        assertThat(accepts(g, "null")).isTrue();
        assertThat(accepts(g, "[1,2]")).isTrue();
        assertThat(accepts(g, "1")).isFalse();
        assertThatThrownBy(() -> schema("{\"anyOf\": [{\"type\": \"string\"}, {\"enum\": [\"a\"]}]}"))
                .isInstanceOf(SchemaException.class).hasMessage("'anyOf' branches that can begin with the same character ('\"') are not supported (at '.anyOf')");
        assertThatThrownBy(() -> schema("{\"type\": \"string\", \"anyOf\": [{\"type\": \"string\"}]}"))
                .hasMessage("'anyOf' beside 'type' is not supported");
    }

    @Test
    void taggedValuesFollowTheirOwnPrefix() {
        Grammar g = Grammar.tagged(List.of("<a>{\"name\": \"x\", \"arguments\": ", "<a>{\"name\": \"xy\", \"arguments\": "),
                List.of(schema("{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}, \"additionalProperties\": false}"), Grammar.jsonObject()),
                "}</a>");
        assertThat(accepts(g, "<a>{\"name\": \"x\", \"arguments\": {\"n\": 1}}</a>")).isTrue();
        assertThat(accepts(g, "<a>{\"name\": \"xy\", \"arguments\": {\"m\": [true]}}</a>")).isTrue();
        assertThat(accepts(g, "<a>{\"name\": \"x\", \"arguments\": {\"m\": 1}}</a>")).as("x's schema").isFalse();
        assertThat(accepts(g, "<a>{\"name\": \"z\", \"arguments\": {}}</a>")).as("no such name").isFalse();
        assertThat(accepts(g, "<a>{\"name\": \"x\", \"arguments\": {}}")).as("no suffix").isFalse();
        assertThatThrownBy(() -> Grammar.tagged(List.of("a", "ab"), List.of(Grammar.jsonObject(), Grammar.jsonObject()), ""))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(accepts(g, " <a>{\"name\": \"x\", \"arguments\": {}}</a>")).as("one space before, the parser's").isTrue();
        // the parser takes a leading space as the one allowed before a value, and the prefix could then never begin
        assertThatThrownBy(() -> Grammar.tagged(List.of(" [a"), List.of(Grammar.jsonObject()), "]"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("white space");
    }

    @Test
    void unsupportedKeywordsAreNamed() {
        assertThatThrownBy(() -> schema("{\"type\": \"object\", \"properties\": {\"a\": {\"oneOf\": [{\"type\": \"string\"}]}}}"))
                .isInstanceOf(SchemaException.class).hasMessage("'oneOf' is not supported (at '.properties.a')");
        assertThatThrownBy(() -> schema("{\"type\": \"string\", \"pattern\": \"^a\"}"))
                .isInstanceOf(SchemaException.class).hasMessage("'pattern' is not supported");
        assertThatThrownBy(() -> schema("{\"type\": \"object\", \"required\": [\"x\"], \"properties\": {}}"))
                .hasMessageContaining("'required' names '\"x\"', which is not in 'properties'");
        assertThatThrownBy(() -> schema("{\"type\": \"strin\"}")).hasMessageContaining("'type' must be object, array");
        assertThatThrownBy(() -> schema("{\"enum\": []}")).hasMessageContaining("'enum' must be an array of 1 to");
        assertThatThrownBy(() -> schema("{\"properties\": {\"\\ud800\": {}}}")).isInstanceOf(SchemaException.class)
                .hasMessageContaining("not valid Unicode");
        assertThatThrownBy(() -> schema("{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}")).hasMessageContaining("'minItems' is more than 'maxItems'");
    }
}
